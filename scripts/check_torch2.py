#!/usr/bin/env python3
"""Runs the build's compile commands with -fsyntax-only and LibTorch 2.x headers first.

usage: check_torch2.py COMPILE_COMMANDS.json INCLUDE_DIR SOURCE_ROOT

- C++ standard: -std=gnu++20 when the headers demand it (LibTorch 2.14+ has an #error for older
  standards), the build's own -std otherwise; CMake makes the same choice (dependencies.cmake).
- CUDA headers (a header set with c10/cuda/impl/cuda_cmake_macros.h and nccl.h, see
  fetch_torch2_headers.sh trixie-cuda): the code behind GTGM_HAVE_CUDA / GTGM_HAVE_NCCL is
  compiled, and only the translation units that hold such code are checked (the rest compile the
  same as with the CPU headers).
"""
import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

CUDA_GUARDS = re.compile(r"GTGM_HAVE_(CUDA|NCCL)")
QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def ours(root, path):
    # Sources, or the unity batches that #include them (GTGM_UNITY_BUILD=ON).
    return path.startswith(root + "/src/") or path.startswith(root + "/tests/") or "/Unity/unity_" in path


def required_std(inc):
    try:
        with open(os.path.join(inc, "torch/csrc/api/include/torch/all.h")) as f:
            text = f.read()
    except OSError:
        return []
    return ["-std=gnu++20"] if "C++20 or later" in text else []


def is_cuda_set(inc):
    return os.path.exists(os.path.join(inc, "c10/cuda/impl/cuda_cmake_macros.h")) and os.path.exists(
        os.path.join(inc, "nccl.h"))


def has_cuda_code(path, root, seen=None):
    """Whether a source (or a unity batch, or a gtgm header it includes) holds CUDA/NCCL-only code."""
    seen = set() if seen is None else seen
    if path in seen or not os.path.exists(path):
        return False
    seen.add(path)
    with open(path, errors="replace") as f:
        text = f.read()
    if CUDA_GUARDS.search(text):
        return True
    for name in QUOTED_INCLUDE.findall(text):
        for base in (os.path.dirname(path), os.path.join(root, "include"), os.path.join(root, "src")):
            cand = os.path.normpath(os.path.join(base, name))
            if cand.startswith(root) and has_cuda_code(cand, root, seen):
                return True
    # Unity batches include their sources by absolute path.
    for name in re.findall(r'^\s*#\s*include\s+"(/[^"]+)"', text, re.M):
        if has_cuda_code(name, root, seen):
            return True
    return False


def command(entry, extra):
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
    return [out[0]] + extra["before"] + out[1:] + extra["after"] + ["-fsyntax-only", "-Wno-deprecated-declarations"]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    db_path, inc, root = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    with open(db_path) as f:
        entries = [e for e in json.load(f) if ours(root, e["file"])]
    if not entries:
        sys.exit("check_torch2: no gtgm sources in " + db_path)
    cuda = is_cuda_set(inc)
    if cuda:
        entries = [e for e in entries if has_cuda_code(e["file"], root)]
        if not entries:
            sys.exit("check_torch2: no translation unit holds GTGM_HAVE_CUDA/NCCL code: is the pattern stale?")
    # 2.x headers first: they shadow the system's 1.13 ATen/c10/torch headers.
    extra = {"before": ["-isystem", inc, "-isystem", os.path.join(inc, "torch/csrc/api/include")],
             "after": required_std(inc)}
    if cuda:
        extra["after"] += ["-DGTGM_HAVE_CUDA=1", "-DGTGM_HAVE_NCCL=1", "-DUSE_C10D_NCCL=1", "-DUSE_CUDA=1"]

    def check(entry):
        p = subprocess.run(command(entry, extra), cwd=entry["directory"], capture_output=True, text=True)
        return entry["file"], p.returncode, p.stderr

    failed = 0
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, rc, err in pool.map(check, entries):
            if rc != 0:
                failed += 1
                print(f"check_torch2: FAIL {os.path.relpath(path, root)}\n{err[-4000:]}")
    mode = ", ".join(x for x in [" ".join(required_std(inc)) or "the build's -std",
                                 "CUDA + NCCL code on" if cuda else ""] if x)
    what = "translation units with CUDA/NCCL code" if cuda else "translation units"
    print(f"check_torch2: {len(entries) - failed}/{len(entries)} {what} compile against {inc} ({mode})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
