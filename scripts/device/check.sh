#!/usr/bin/env bash
# The one prepared command for a lent GPU machine (Ubuntu, PyTorch 2.x + CUDA, no registry):
#   run(command="scripts/device/check.sh", carry=[".deps-device"])
# It unpacks the carried Debian packages (scripts/device/fetch_deps.sh, run here first), configures
# against the machine's LibTorch (torch.utils.cmake_prefix_path), builds, runs the *_CUDA tests, a
# 1-process NCCL smoke, a short synthetic bf16 pretraining run and `gtgm bench train --device cuda`,
# then prints a summary table. Logs go to $OUT (or ./device_out). Budget: < 10 minutes in all.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${OUT:-$ROOT/device_out}"
mkdir -p "$OUT"
DEPS="$ROOT/.deps-device"
BUILD="$ROOT/build-device"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
t0=$(date +%s)
note() { echo "$*" | tee -a "$SUMMARY"; }
stage() {  # stage NAME TIMEOUT_S COMMAND...: runs with a time limit, logs to $OUT/NAME.log
  local name="$1" limit="$2"; shift 2
  local s=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  note "$(printf '%-22s rc=%-3s %4ss' "$name" "$rc" "$(( $(date +%s) - s ))")"
  return $rc
}

# 1. Dependencies from the carried Debian packages.
mkdir -p "$DEPS/root"
for deb in "$DEPS"/debs/*.deb; do dpkg-deb -x "$deb" "$DEPS/root"; done
PREFIX="$DEPS/root/usr"
export LD_LIBRARY_PATH="$PREFIX/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
TORCH_PREFIX="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
export PATH="/usr/local/cuda/bin:$PATH"
# The carried fmt 9 (spdlog's) must precede torch/include's bundled fmt: CMake turns the -I that
# dependencies.cmake adds into -isystem (the folder is also an imported target's include), so pass
# it as a plain -I through CXXFLAGS (found by the dist/ device check on 2026-11-28).
export CXXFLAGS="-I$PREFIX/include ${CXXFLAGS:-}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1
note "gpu: $(cat "$OUT/gpu.txt")"
note "torch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())')"

# 2. Configure + build (no ITK/HDF5 on this machine: NIfTI through the built-in reader).
stage configure 240 cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PREFIX" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DGTGM_WITH_ITK=OFF -DGTGM_WITH_HDF5=OFF -DGTGM_USE_CCACHE=OFF -DCMAKE_CUDA_ARCHITECTURES=90 || {
  tail -40 "$OUT/configure.log"; exit 1; }
if [ "${1:-}" = "--build-only" ]; then  # early portability probe: report every failing file
  stage build 420 cmake --build "$BUILD" -j "$(nproc)" -- -k 0
  grep -E "^FAILED|error:" "$OUT/build.log" | head -60
  "$BUILD/gtgm" info 2>&1 | tee -a "$SUMMARY"
  exit 0
fi
# -k 0: report every failing file; go on with whatever binaries linked.
stage build 420 cmake --build "$BUILD" -j "$(nproc)" -- -k 0 || grep -E "^FAILED|error:" "$OUT/build.log" | head -40
G="$BUILD/gtgm"
stage info 60 "$G" info; cat "$OUT/info.log"

# 3. CUDA tests (they skip on CPU machines) and the NCCL smoke among them.
stage cuda_tests 90 "$BUILD/tests/gtgm_tests" --gtest_filter='*_CUDA*:*Cuda*:*Nccl*:*NCCL*' --gtest_brief=1
grep -E "PASSED|FAILED|SKIPPED" "$OUT/cuda_tests.log" | head -40 | tee -a "$SUMMARY"

# 5. Throughput of the paper's GTGM step (ResNet-50 3D) on the GPU.
PY="$(command -v python3)"
stage bench_train 150 "$G" bench train --train-model both --train-device cuda --train-precision bf16 --train-python "$PY"
tail -25 "$OUT/bench_train.log" | tee -a "$SUMMARY"
stage bench_train_cl 60 "$G" bench train --train-model paper --train-device cuda --train-precision bf16 \
  --train-channels-last --train-python "$PY"
tail -12 "$OUT/bench_train_cl.log" | tee -a "$SUMMARY"
stage bench_infer 60 "$G" bench infer --infer-device cuda --infer-python "$PY"
tail -12 "$OUT/bench_infer.log" | tee -a "$SUMMARY"
# 4. Short synthetic pretraining in bf16 on the GPU.
D="$OUT/run"
stage synth 30 "$G" synth --out "$D/data" --seed 1
stage pretrain_bf16 90 "$G" pretrain --config "$ROOT/configs/demo/pretrain.yaml" --set run.dir="$D/pretrain" \
  --set run.device=cuda --set run.precision=bf16 --set data.root="$D/data/ct" --set train.steps=40
tail -5 "$OUT/pretrain_bf16.log" | tee -a "$SUMMARY"

note "total: $(( $(date +%s) - t0 )) s"
cat "$SUMMARY"
