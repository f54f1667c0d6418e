#!/usr/bin/env bash
# LibTorch 2.x portability check without a GPU: compiles every gtgm source (library, cli and
# tests) with -fsyntax-only against Debian's LibTorch 2.x headers, reusing the flags of the real
# build (compile_commands.json). Header sets: trixie's 2.6 (C++17) and sid's newest (2.14 on
# 2026-11-28, C++20); the lent GPU machines run 2.11, in between. Version differences must live
# in core/ shims (docs/architecture.md).
#   GTGM_TORCH2_SUITES="trixie sid trixie-cuda" (default) selects the header sets; trixie-cuda
# compiles the code behind GTGM_HAVE_CUDA/NCCL against LibTorch 2.6 + CUDA 12.4 + NCCL headers.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${GTGM_BUILD_DIR:-$ROOT/build}"
[ -f "$BUILD/compile_commands.json" ] || { echo "check_torch2: run cmake first ($BUILD/compile_commands.json missing)"; exit 2; }
rc=0
for suite in ${GTGM_TORCH2_SUITES:-trixie sid trixie-cuda}; do
  INC="$("$ROOT/scripts/fetch_torch2_headers.sh" "$suite" | tail -1)"
  echo "check_torch2: $suite"
  /usr/bin/python3 "$ROOT/scripts/check_torch2.py" "$BUILD/compile_commands.json" "$INC" "$ROOT" || rc=1
done
exit $rc
