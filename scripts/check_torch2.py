#!/usr/bin/env python3
"""Runs every compile command of the build with -fsyntax-only and LibTorch 2.x headers first."""
import json, os, shlex, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

db_path, inc, root = sys.argv[1], sys.argv[2], sys.argv[3]
def ours(path):
    # Sources, or the unity batches that #include them (GTGM_UNITY_BUILD=ON).
    return path.startswith(root + "/src/") or path.startswith(root + "/tests/") or "/Unity/unity_" in path

entries = [e for e in json.load(open(db_path)) if ours(e["file"])]
if not entries:
    sys.exit("check_torch2: no gtgm sources in " + db_path)
torch2 = ["-isystem", inc, "-isystem", os.path.join(inc, "torch/csrc/api/include")]

def required_std(inc):
    """-std=gnu++20 when the headers demand C++20 (LibTorch 2.14+ has an #error for older
    standards); the build's own -std otherwise. CMake makes the same choice (dependencies.cmake)."""
    try:
        text = open(os.path.join(inc, "torch/csrc/api/include/torch/all.h")).read()
    except OSError:
        return []
    return ["-std=gnu++20"] if "C++20 or later" in text else []

extra = required_std(inc)

def command(entry):
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    if os.path.basename(args[0]) == "ccache":
        args = args[1:]
    out, drop = [], False
    for a in args:
        if drop:
            drop = False
            continue
        if a == "-o":
            drop = True
            continue
        if a == "-c":
            continue
        out.append(a)
    # 2.x headers first: they shadow the system's 1.13 ATen/c10/torch headers.
    return [out[0]] + torch2 + out[1:] + extra + ["-fsyntax-only", "-Wno-deprecated-declarations"]

def check(entry):
    p = subprocess.run(command(entry), cwd=entry["directory"], capture_output=True, text=True)
    return entry["file"], p.returncode, p.stderr

failed = 0
with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
    for path, rc, err in pool.map(check, entries):
        rel = os.path.relpath(path, root)
        if rc != 0:
            failed += 1
            print(f"check_torch2: FAIL {rel}\n{err[-4000:]}")
std = extra[0] if extra else "the build's -std"
print(f"check_torch2: {len(entries) - failed}/{len(entries)} sources compile against LibTorch 2.x headers ({inc}, {std})")
sys.exit(1 if failed else 0)
