#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds (Release, all cores), runs ctest.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${GTGM_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/fetch_test_data.sh"
export CCACHE_DIR="${CCACHE_DIR:-$ROOT/.cache/ccache}"
start=$(date +%s)
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j "$(nproc)"
echo "test.sh: build took $(( $(date +%s) - start )) s"
# LibTorch 2.x portability: every source must compile against its headers too.
"$ROOT/scripts/check_torch2.sh"
( cd "$BUILD" && ctest --output-on-failure -j "$(nproc)" )
echo "test.sh: build + tests took $(( $(date +%s) - start )) s"
