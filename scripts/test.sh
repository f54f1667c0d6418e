#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds (Release, all cores), runs ctest.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${GTGM_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/fetch_test_data.sh"
# Layering: an include that goes up or sideways between areas fails here, before the build.
python3 "$ROOT/scripts/check_layers.py"
export CCACHE_DIR="${CCACHE_DIR:-$ROOT/.cache/ccache}"
start=$(date +%s)
# Unity build by default: a cold build parses LibTorch's headers once per batch of 8 sources
# instead of once per source (about 6x less compiler CPU time). GTGM_UNITY=OFF for per-file builds.
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGTGM_UNITY_BUILD="${GTGM_UNITY:-ON}"
cmake --build "$BUILD" -j "$(nproc)"
echo "test.sh: build took $(( $(date +%s) - start )) s"
# LibTorch 2.x portability: every source must compile against 2.6 and the newest headers too.
check_start=$(date +%s)
"$ROOT/scripts/check_torch2.sh"
echo "test.sh: LibTorch 2.x header checks took $(( $(date +%s) - check_start )) s"
( cd "$BUILD" && ctest --output-on-failure -j "$(nproc)" )
echo "test.sh: build + tests took $(( $(date +%s) - start )) s"
