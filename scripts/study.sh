#!/usr/bin/env bash
# The pretraining study (docs/evidence.md): does GTGM pretraining help fine-tuning with few labels,
# and which part of it? Not in CI: about 65 minutes on 2 CPU cores (two jobs side by side, one
# thread each). Re-running reuses every finished step (gtgm eval reuses finished runs, pretraining
# resumes from its checkpoints); delete study_run/ to start over.
#   scripts/study.sh                     # everything; the table: study_run/eval/report.md
#   STUDY_SEEDS="1 2" scripts/study.sh   # other fine-tuning seeds (default 1..6: two processes x 3)
# 1. Data, fixed before any result was looked at: gtgm synth's CT phantoms (the generator as
#    shipped, unchanged for the study): a pretraining pool of 24 volumes (synth seed 7) and a
#    fine-tuning task of 12 other volumes (synth seed 42: 9 train, 3 test).
# 2. Pretraining, five arms of configs/study/pretrain.yaml that differ by one key each.
# 3. gtgm eval configs/eval/study.yaml: 1, 2 and 9 labelled cases x 6 inits x 6 seeds.
# 4. gtgm probe of each arm on the fine-tuning task's volumes (unseen by pretraining).
# 5. The same probes on a real MR volume with tissue labels (DATA.md).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${GTGM_BUILD_DIR:-$ROOT/build}"
WORK="$ROOT/study_run"   # configs/study/*.yaml name this folder
SEEDS="${STUDY_SEEDS:-1 2 3 4 5 6}"
export CCACHE_DIR="${CCACHE_DIR:-$ROOT/.cache/ccache}"
if [ ! -x "$BUILD/gtgm" ] || [ -z "${STUDY_NO_BUILD:-}" ]; then
  "$ROOT/scripts/setup.sh"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGTGM_UNITY_BUILD="${GTGM_UNITY:-ON}" >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target gtgm
fi
GTGM="$BUILD/gtgm"
cd "$ROOT"
mkdir -p "$WORK/logs"
start=$(date +%s)
say() { echo "== study $(( $(date +%s) - start ))s: $*"; }
run() {  # run NAME COMMAND...: one step, its output in study_run/logs/NAME.log
  local name="$1"; shift
  say "$name"
  if ! "$@" >"$WORK/logs/$name.log" 2>&1; then
    echo "== study: $name FAILED; log: $WORK/logs/$name.log"; tail -20 "$WORK/logs/$name.log"; return 1
  fi
}

# 1. Data.
[ -f "$WORK/data/pool/Task01_SynthCT/dataset.json" ] ||
  run synth-pool "$GTGM" synth --out "$WORK/data/pool" --kind ct --cases 24 --test-cases 0 --seed 7
[ -f "$WORK/data/ft/Task01_SynthCT/dataset.json" ] ||
  run synth-ft "$GTGM" synth --out "$WORK/data/ft" --kind ct --cases 12 --test-cases 0 --seed 42
PRE=(--config configs/study/pretrain.yaml)
FTP=(--config configs/study/pretrain.yaml --set data.root="$WORK/data/ft/Task01_SynthCT"
     --set text.caption_cache="$WORK/ft_captions.jsonl")
run preprocess-pool "$GTGM" preprocess "${PRE[@]}"
run preprocess-ft "$GTGM" preprocess --config configs/study/finetune.yaml
[ -f "$WORK/pool_captions.jsonl" ] ||
  run caption-pool "$GTGM" caption "${PRE[@]}" --images "$WORK/data/pool/Task01_SynthCT/imagesTr"
[ -f "$WORK/ft_captions.jsonl" ] ||
  run caption-ft "$GTGM" caption "${FTP[@]}" --images "$WORK/data/ft/Task01_SynthCT/imagesTr"

# 2. Pretraining: two arms at a time (each resumes from its checkpoints when rerun).
declare -A ARM=([full]="" [image_only]="loss.vlp_weight=0" [text_only]="loss.vr_weight=0"
                [shuffled]="text.caption_shuffle=true" [random_text]="text.caption_random=true")
ARMS="full image_only text_only shuffled random_text"
pretrain_arm() {
  local arm="$1" sets=(--set run.dir="$WORK/pretrain/$1" --set run.name="study_$1")
  [ -n "${ARM[$arm]}" ] && sets+=(--set "${ARM[$arm]}")
  if [ -d "$WORK/pretrain/$arm/checkpoints" ]; then sets+=(--resume "$WORK/pretrain/$arm"); fi
  run "pretrain-$arm" "$GTGM" pretrain "${PRE[@]}" "${sets[@]}"
}
for pair in "full image_only" "text_only shuffled" "random_text"; do
  pids=()
  for arm in $pair; do pretrain_arm "$arm" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
done

# 3. Fine-tuning: the seeds split over two gtgm eval processes, then one that reuses every run
# and writes the report (mean +- sd, paired differences with bootstrap CIs, per-seed plots).
odd=() even=()
i=0
for s in $SEEDS; do if (( i++ % 2 == 0 )); then odd+=("$s"); else even+=("$s"); fi; done
list() { local IFS=,; echo "[$*]"; }
pids=()
for part in odd even; do
  declare -n seeds_of="$part"
  [ ${#seeds_of[@]} -eq 0 ] && continue
  run "eval-$part" "$GTGM" eval --config configs/eval/study.yaml --set "seeds=$(list "${seeds_of[@]}")" \
    --no-overlays & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
all=($SEEDS)
run eval "$GTGM" eval --config configs/eval/study.yaml --set "seeds=$(list "${all[@]}")"

# 4. Probes of each arm on the fine-tuning task's 12 volumes (not in the pretraining pool), against
# their true captions (also for the shuffled arm: does its image embedding find the right text?).
probe_arms() {  # probe_arms TAG CROPS CONFIG-ARGS...: every arm's probe into study_run/probe-TAGARM.txt
  local tag="$1" crops="$2" arm; shift 2
  for arm in $ARMS; do
    local sets=()
    [ "$arm" = image_only ] && sets+=(--set loss.vlp_weight=0)
    say "probe-$tag$arm"
    "$GTGM" probe "$WORK/pretrain/$arm" "$@" "${sets[@]}" --crops "$crops" >"$WORK/probe-$tag$arm.txt" \
      2>"$WORK/logs/probe-$tag$arm.log" ||
      { echo "== study: probe-$tag$arm FAILED"; tail -20 "$WORK/logs/probe-$tag$arm.log"; exit 1; }
    cat "$WORK/probe-$tag$arm.txt"
  done
}
probe_arms "" 256 "${FTP[@]}"
# 5. The same probes on a real MR volume (DATA.md: ITK's KmeansTest T1 image with its 7-cluster
# k-means labels, fetched by scripts/fetch_test_data.sh): do features learnt on CT phantoms
# separate real tissue classes better than a random encoder's?
"$ROOT/scripts/fetch_test_data.sh" >/dev/null
SRC="$ROOT/.deps/insighttoolkit5-examples/usr/share/doc/insighttoolkit5-examples/examples/Data"
REAL="$WORK/data/real/Task90_KmeansMR"
if [ -f "$SRC/KmeansTest_T1UCharRaw.nii.gz" ]; then
  if [ ! -f "$REAL/dataset.json" ]; then
    mkdir -p "$REAL/imagesTr" "$REAL/labelsTr"
    cp "$SRC/KmeansTest_T1UCharRaw.nii.gz" "$REAL/imagesTr/kmeans_000.nii.gz"
    cp "$SRC/KmeansTest_T1KmeansPrelimSegmentation.nii.gz" "$REAL/labelsTr/kmeans_000.nii.gz"
    cat >"$REAL/dataset.json" <<'JSON'
{"name": "KmeansMR", "description": "ITK KmeansTest T1 (insighttoolkit5-examples, Apache-2.0)",
 "modality": {"0": "MRI"},
 "labels": {"0": "c0", "1": "c1", "2": "c2", "3": "c3", "4": "c4", "5": "c5", "6": "c6"},
 "numTraining": 1, "training": [{"image": "./imagesTr/kmeans_000.nii.gz", "label": "./labelsTr/kmeans_000.nii.gz"}]}
JSON
  fi
  RP=(--config configs/study/pretrain.yaml --set data.root="$REAL" --set data.modality=MRI
      --set text.caption_cache="$WORK/real_captions.jsonl")
  run preprocess-real "$GTGM" preprocess "${RP[@]}"
  [ -f "$WORK/real_captions.jsonl" ] || run caption-real "$GTGM" caption "${RP[@]}" --images "$REAL/imagesTr"
  probe_arms real- 128 "${RP[@]}"
else
  echo "== study: no real MR volume ($SRC): the real-volume probes are skipped"
fi
cat "$WORK/eval/report.md"
say "done: $WORK/eval/report.md, report_stats.csv, seed plots; probes: $WORK/probe-*.txt"
