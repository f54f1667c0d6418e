#!/usr/bin/env python3
"""Fails on an include that goes up or sideways between gtgm's areas.

The areas and what each may use come from the `gtgm_add_area(<area> DEPS gtgm_<below> ...)` lines
of CMakeLists.txt, the one place the layering is declared: an area may include its own headers and
those of every area below it (the transitive closure of its DEPS). cli sits above all areas.
Every `#include "gtgm/<area>/..."` in src/<area>/ and include/gtgm/<area>/ is checked.

Usage: scripts/check_layers.py [--root DIR]   (exit 0 clean, 1 with one line per bad include)
"""
import argparse
import pathlib
import re
import sys

AREA_RE = re.compile(r"^\s*gtgm_add_area\(\s*(\w+)\s+DEPS\s+([^)]*)\)", re.M)
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"gtgm/(\w+)/[^"]+"', re.M)


def read_areas(root):
    text = (root / "CMakeLists.txt").read_text()
    direct = {}
    for name, deps in AREA_RE.findall(text):
        direct[name] = [d[len("gtgm_"):] for d in deps.split() if d.startswith("gtgm_")]
    if not direct:
        sys.exit(f"check_layers: no gtgm_add_area(...) lines in {root / 'CMakeLists.txt'}")
    below = {}

    def closure(area, path):
        if area in below:
            return below[area]
        if area in path:
            sys.exit(f"check_layers: CMakeLists.txt: areas depend on each other in a cycle: {' -> '.join(path + [area])}")
        if area not in direct:
            sys.exit(f"check_layers: CMakeLists.txt: '{path[-1]}' depends on gtgm_{area}, which is no area")
        seen = set()
        for d in direct[area]:
            seen |= {d} | closure(d, path + [area])
        below[area] = seen
        return seen

    for area in direct:
        closure(area, [])
    below["cli"] = set(direct)
    return below


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parent.parent)
    root = ap.parse_args().root.resolve()
    below = read_areas(root)
    bad = []
    files = 0
    for area, allowed in sorted(below.items()):
        for folder in (root / "src" / area, root / "include" / "gtgm" / area):
            for f in sorted(folder.rglob("*")) if folder.is_dir() else []:
                if f.suffix not in (".h", ".hpp", ".cpp", ".cc", ".inc"):
                    continue
                files += 1
                text = f.read_text(errors="replace")
                for m in INCLUDE_RE.finditer(text):
                    used = m.group(1)
                    if used == area or used in allowed:
                        continue
                    line = text.count("\n", 0, m.start()) + 1
                    kind = "upward" if area in below.get(used, set()) or used == "cli" else "sideways"
                    may = ", ".join(sorted(allowed)) or "nothing"
                    bad.append(f"{f.relative_to(root)}:{line}: {kind} include of gtgm/{used}/ from area '{area}' "
                               f"(CMakeLists.txt lets {area} use: {may})")
    for b in bad:
        print(b)
    if bad:
        print(f"check_layers: {len(bad)} include(s) break the layering")
        return 1
    print(f"check_layers: {files} files in {len(below)} areas follow the layering")
    return 0


if __name__ == "__main__":
    sys.exit(main())
