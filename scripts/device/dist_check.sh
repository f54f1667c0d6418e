#!/usr/bin/env bash
# Focused GPU check of dist/ and losses/ (a subset build: core, config, dist, losses):
#   scripts/device/fetch_deps.sh        # here, once
#   run(command="scripts/device/dist_check.sh", carry=[".deps-device"])
# Builds gtgm_tests against the machine's CUDA LibTorch (NCCL path compiled), runs the 1-process
# NCCL smoke and the CUDA loss checks, then every dist/losses test that runs without Gloo.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${OUT:-$ROOT/device_out}"
mkdir -p "$OUT"
DEPS="$ROOT/.deps-device"
BUILD="$ROOT/build-device-dist"
t0=$(date +%s)
mkdir -p "$DEPS/root"
for deb in "$DEPS"/debs/*.deb; do dpkg-deb -x "$deb" "$DEPS/root"; done
PREFIX="$DEPS/root/usr"
export LD_LIBRARY_PATH="$PREFIX/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
TORCH_PREFIX="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
export PATH="/usr/local/cuda/bin:$PATH"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "nccl", torch.cuda.nccl.version())' | tee "$OUT/torch.txt"
# Plain -I for the carried fmt 9 (spdlog's): CMake turns the -I that dependencies.cmake adds into
# -isystem when the same folder is also a system include, and torch/include's bundled fmt 12
# then wins (spdlog 1.10 fails to compile against it).
export CXXFLAGS="-I$PREFIX/include ${CXXFLAGS:-}"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PREFIX" \
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DGTGM_WITH_ITK=OFF -DGTGM_WITH_HDF5=OFF -DGTGM_USE_CCACHE=OFF \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DGTGM_TEST_AREAS="core;config;dist;losses" > "$OUT/configure.log" 2>&1 \
  || { tail -40 "$OUT/configure.log"; exit 1; }
grep -E "gtgm: LibTorch" "$OUT/configure.log"
echo "configure: $(( $(date +%s) - t0 )) s"
cmake --build "$BUILD" --target gtgm_tests -j "$(nproc)" -- -k 0 > "$OUT/build.log" 2>&1
rc=$?
echo "build rc=$rc: $(( $(date +%s) - t0 )) s"
if [ $rc -ne 0 ]; then grep -E -A8 "error|FAILED" "$OUT/build.log" | head -150; exit 1; fi
T="$BUILD/tests/gtgm_tests"
timeout 120 "$T" --gtest_filter='DistNccl*:LossesCuda*' 2>&1 | tee "$OUT/cuda_tests.log" | grep -E "^\[|Failure|error" | head -40
timeout 240 "$T" --gtest_filter='Dist*:Losses*:GtgmObjective*' --gtest_brief=1 2>&1 | tee "$OUT/cpu_tests.log" | tail -25
echo "total: $(( $(date +%s) - t0 )) s"
