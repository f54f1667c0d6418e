#!/usr/bin/env bash
# LibTorch 2.x portability check without a GPU: compiles every gtgm source (library, cli and
# tests) with -fsyntax-only against Debian trixie's LibTorch 2.6 headers, reusing the flags of
# the real build (build/compile_commands.json). Version differences must live in core/ shims.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${GTGM_BUILD_DIR:-$ROOT/build}"
INC="$("$ROOT/scripts/fetch_torch2_headers.sh" | tail -1)"
[ -f "$BUILD/compile_commands.json" ] || { echo "check_torch2: run cmake first ($BUILD/compile_commands.json missing)"; exit 2; }
python3 "$ROOT/scripts/check_torch2.py" "$BUILD/compile_commands.json" "$INC" "$ROOT"
