#!/usr/bin/env bash
# The one prepared command for a lent GPU machine (PyTorch 2.x + CUDA, no registry):
#   scripts/device/fetch_deps.sh                                   # here, once
#   run(command="scripts/device/check.sh", carry=[".deps-device"], timeout_s=600)
#   scripts/device/check.sh --rehearse                             # here: the same stages on the CPU
# It unpacks the carried Debian packages, configures against the machine's LibTorch
# (torch.utils.cmake_prefix_path), builds (unity), then runs, most important first:
#   1. every *_CUDA test (core, data, models, losses, train, text, eval) and the 1-process NCCL smoke;
#   2. `gtgm bench train` of the paper's ResNet-50 GTGM step at 24x224x224 in bf16, beside the
#      Python reference: step time, samples/s, peak memory, achieved TFLOP/s;
#   3. a short synthetic pretraining run in bf16 (synth -> preprocess -> caption -> pretrain);
#   4. the demo model, channels-last-3d, batch 8, `gtgm bench infer`, and the CPU dist/losses tests.
# Each stage gets what is left of a total budget (GTGM_CHECK_BUDGET_S, default 570 s), so the
# summary ($OUT/summary.txt) is always written; logs go to $OUT (or ./device_out).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
MODE=cuda
BUILD_ONLY=0
for a in "$@"; do
  case "$a" in
    --rehearse) MODE=cpu ;;          # CPU rehearsal: checks the script, flags and stages, not the GPU
    --build-only) BUILD_ONLY=1 ;;    # portability probe: report every failing file and stop
    *) echo "check.sh: unknown argument '$a' (expected --rehearse or --build-only)"; exit 2 ;;
  esac
done
OUT="${OUT:-$ROOT/device_out}"
mkdir -p "$OUT"
DEPS="$ROOT/.deps-device"
BUILD="${GTGM_CHECK_BUILD_DIR:-$ROOT/build-device}"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
t0=$(date +%s)
# The rehearsal runs on 2 CPU cores: stage limits x4 and a longer budget.
SCALE=1
[ "$MODE" = cpu ] && SCALE=4
DEADLINE=$(( t0 + ${GTGM_CHECK_BUDGET_S:-$(( 570 * SCALE ))} ))
note() { echo "$*" | tee -a "$SUMMARY"; }
stage() {  # stage NAME LIMIT_S COMMAND...: runs with min(LIMIT, budget left), logs to $OUT/NAME.log
  local name="$1" limit="$2"; shift 2
  local s left rc
  s=$(date +%s)
  left=$(( DEADLINE - s - 5 ))
  if [ "$left" -lt 20 ]; then
    note "$(printf '%-22s skipped: %ss of the budget left' "$name" "$left")"
    return 99
  fi
  limit=$(( limit * SCALE ))
  [ "$left" -lt "$limit" ] && limit=$left
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  note "$(printf '%-22s rc=%-3s %4ss%s' "$name" "$rc" "$(( $(date +%s) - s ))" \
    "$([ "$rc" -eq 124 ] && echo " (stopped at its ${limit}s limit)")")"
  return $rc
}

# 1. Dependencies from the carried Debian packages (scripts/device/fetch_deps.sh).
if ! ls "$DEPS"/debs/*.deb > /dev/null 2>&1; then
  note "no carried packages in $DEPS/debs: run scripts/device/fetch_deps.sh here and carry .deps-device"
  exit 2
fi
mkdir -p "$DEPS/root"
for deb in "$DEPS"/debs/*.deb; do dpkg-deb -x "$deb" "$DEPS/root"; done
PREFIX="$DEPS/root/usr"
export LD_LIBRARY_PATH="$PREFIX/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PY="$(command -v python3)"
[ "$MODE" = cpu ] && PY=/usr/bin/python3   # the rehearsal's reference scripts need numpy + torch
TORCH_PREFIX="$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
[ -d "$TORCH_PREFIX" ] || TORCH_PREFIX=""   # Debian's python3-torch: LibTorch is found in /usr
export PATH="/usr/local/cuda/bin:$PATH"
# The carried fmt 9 (spdlog's) must precede torch/include's bundled fmt: CMake turns the -I that
# dependencies.cmake adds into -isystem (the folder is also an imported target's include), so pass
# it as a plain -I through CXXFLAGS (found by the dist/ device check on 2026-11-28).
export CXXFLAGS="-I$PREFIX/include ${CXXFLAGS:-}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
if [ "$MODE" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1
  note "gpu: $(cat "$OUT/gpu.txt")"
else
  note "rehearsal on the CPU ($(nproc) cores): the stages and flags of the GPU run, small sizes"
fi
note "torch: $("$PY" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1)"

# 2. Configure + build. No ITK/HDF5 on this machine: NIfTI through the built-in reader. Unity
# batches: ~29 large translation units instead of ~190 (docs/performance.md).
stage configure 150 cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PREFIX" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DGTGM_WITH_ITK=OFF -DGTGM_WITH_HDF5=OFF -DGTGM_USE_CCACHE="${GTGM_CHECK_CCACHE:-OFF}" \
  -DGTGM_UNITY_BUILD="${GTGM_CHECK_UNITY:-ON}" -DCMAKE_CUDA_ARCHITECTURES=90 || {
  tail -40 "$OUT/configure.log"; cat "$SUMMARY"; exit 1; }
grep -E "gtgm: LibTorch" "$OUT/configure.log" | tee -a "$SUMMARY"
# -k 0: report every failing file; go on with whatever binaries linked.
stage build 360 cmake --build "$BUILD" --target gtgm gtgm_tests -j "$(nproc)" -- -k 0 ||
  grep -E "^FAILED|error:" "$OUT/build.log" | head -40 | tee -a "$SUMMARY"
G="$BUILD/gtgm"
T="$BUILD/tests/gtgm_tests"
if [ "$BUILD_ONLY" = 1 ]; then
  "$G" info 2>&1 | tee -a "$SUMMARY"
  exit 0
fi
[ -x "$G" ] && stage info 30 "$G" info && cat "$OUT/info.log"

# 3. The *_CUDA tests (they skip on CPU machines), the NCCL smoke among them.
if [ -x "$T" ]; then
  stage cuda_tests 150 "$T" --gtest_filter='*_CUDA*:*Cuda*:*Nccl*:*NCCL*' --gtest_brief=1
  grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]|tests? ran" "$OUT/cuda_tests.log" | head -40 | tee -a "$SUMMARY"
fi
[ -x "$G" ] || { note "gtgm did not link: see $OUT/build.log"; cat "$SUMMARY"; exit 1; }

# 4. The paper's GTGM step (ResNet-50 3D, 24x224x224 on CUDA, bf16) vs the Python reference.
B=(bench train --train-device "$MODE" --train-precision bf16 --train-python "$PY")
stage bench_paper 150 "$G" "${B[@]}" --train-model paper --json "$OUT/bench_paper.json"
grep -A8 "^model" "$OUT/bench_paper.log" | tee -a "$SUMMARY"

# 5. A short synthetic GTGM pretraining run in bf16 (the demo chain on the device).
D="$OUT/run"
PRE=(--config configs/demo/pretrain.yaml --set data.root="$D/data/Task01_SynthCT" --set data.cache_dir="$D/cache"
     --set text.caption_cache="$D/captions.jsonl")
stage synth 60 "$G" synth --out "$D/data" --kind ct --seed 1 &&
  stage preprocess 60 "$G" preprocess "${PRE[@]}" &&
  stage caption 60 "$G" caption "${PRE[@]}" --images "$D/data/Task01_SynthCT/imagesTr" &&
  stage pretrain_bf16 90 "$G" pretrain "${PRE[@]}" --set run.dir="$D/pretrain" --set run.device="$MODE" \
    --set run.precision=bf16 --set run.threads=0 --set train.steps=40 --set train.log_every=10
tail -4 "$OUT/pretrain_bf16.log" 2>/dev/null | tee -a "$SUMMARY"

# 6. With what is left: the demo model, channels-last-3d, a larger batch, inference, CPU dist tests.
stage bench_demo 60 "$G" "${B[@]}" --train-model demo --json "$OUT/bench_demo.json" &&
  grep -A4 "^model" "$OUT/bench_demo.log" | tee -a "$SUMMARY"
if [ "$MODE" = cuda ]; then
  stage bench_paper_cl 90 "$G" "${B[@]}" --train-model paper --train-channels-last --json "$OUT/bench_paper_cl.json" &&
    grep -A4 "^model" "$OUT/bench_paper_cl.log" | tee -a "$SUMMARY"
  stage bench_paper_b8 90 "$G" "${B[@]}" --train-model paper --train-batch 8 --json "$OUT/bench_paper_b8.json" &&
    grep -A4 "^model" "$OUT/bench_paper_b8.log" | tee -a "$SUMMARY"
fi
# On the GPU the sizes of the earlier H200 figure (docs/performance.md); on the CPU the defaults.
INF=()
[ "$MODE" = cuda ] && INF=(--infer-size 256 384 384 --infer-patch 64 128 128 --infer-channels 32 --infer-classes 8)
stage bench_infer 60 "$G" bench infer --infer-device "$MODE" --infer-python "$PY" "${INF[@]}" \
  --json "$OUT/bench_infer.json" && tail -8 "$OUT/bench_infer.log" | tee -a "$SUMMARY"
[ -x "$T" ] && stage dist_cpu_tests 120 "$T" --gtest_filter='Dist*:Losses*:GtgmObjective*-*_CUDA*' --gtest_brief=1 &&
  grep -E "tests? ran|PASSED|FAILED" "$OUT/dist_cpu_tests.log" | tail -4 | tee -a "$SUMMARY"

note "total: $(( $(date +%s) - t0 )) s"
# Rows for docs/performance.md from the bench JSON files (plain python3: no numpy needed).
"$PY" "$ROOT/scripts/device/report.py" "$OUT" > "$OUT/performance_rows.md" 2>&1 && cat "$OUT/performance_rows.md"
echo "== summary ($SUMMARY)"
cat "$SUMMARY"
