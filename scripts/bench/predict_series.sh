#!/usr/bin/env bash
# `gtgm predict` on one 128^3 CT volume against scripts/bench/predict_reference.py (the same steps in
# plain Python PyTorch on the run's export), repeated; prints min / median / max of the per-case
# seconds (read -> write), of each process's wall time, of their ratios, and whether the label
# maps agree voxel for voxel. CPU figures are only meaningful on a quiet machine.
#
# Usage: scripts/bench/predict_series.sh [runs=3] [threads="1 2"]
#   RUN: a fine-tuning run dir on a CT plan with LPS orientation (default demo_run/finetune_gtgm,
#        written by scripts/demo.sh); SOURCE: a NIfTI resampled to 128^3 on the plan's grid (default
#        the run's first imagesTs/imagesTr case); GTGM=build/gtgm; OUT=build/bench_predict_series.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
threads=${2:-"1 2"}
gtgm=${GTGM:-build/gtgm}
run=${RUN:-demo_run/finetune_gtgm}
out=${OUT:-build/bench_predict_series}
py=/usr/bin/python3
[ -x "$gtgm" ] || { echo "predict_series: $gtgm not found: build it first" >&2; exit 2; }
[ -f "$run/plan.json" ] || { echo "predict_series: $run/plan.json not found: run scripts/demo.sh first or set RUN" >&2; exit 2; }
mkdir -p "$out"
if [ -z "${SOURCE:-}" ]; then
  root=$(sed -n 's/^  root: //p' "$run/config.resolved.yaml" | head -1)
  for f in "$root"/imagesTs/*.nii.gz "$root"/imagesTr/*.nii.gz; do
    if [ -f "$f" ]; then SOURCE=$f && break; fi
  done
fi
[ -f "$SOURCE" ] || { echo "predict_series: no source volume (set SOURCE)" >&2; exit 2; }
"$gtgm" export "$run" --out "$out/export" >/dev/null
"$py" - "$SOURCE" "$run/plan.json" "$out/vol128.nii.gz" <<'PY'
import json, sys
import nibabel as nib, numpy as np, torch
src, plan_file, dst = sys.argv[1:]
plan = json.load(open(plan_file))
if plan["orientation"] != "LPS":
    sys.exit(f"predict_series: the plan's orientation is {plan['orientation']}; this benchmark writes LPS volumes")
a = torch.from_numpy(np.asarray(nib.load(src).dataobj, dtype=np.float32))[None, None]
v = torch.nn.functional.interpolate(a, size=(128, 128, 128), mode="trilinear", align_corners=False)[0, 0].numpy()
d, h, w = plan["target_spacing"]  # NIfTI i, j, k = W, H, D; LPS = diag(-, -, +) in RAS
nib.save(nib.Nifti1Image(v, np.diag([-w, -h, d, 1.0])), dst)
PY
echo "predict_series: $(uptime); $("$py" -c "import torch; print('torch', torch.__version__)"); source $SOURCE"
now() { date +%s.%N; }
for t in $threads; do
  rows="$out/t${t}.tsv"
  : >"$rows"
  for r in $(seq 1 "$runs"); do
    t0=$(now)
    line=$("$gtgm" predict -i "$out/vol128.nii.gz" -o "$out/gtgm.nii.gz" -m "$run" --threads "$t" --overwrite 2>&1 |
      grep -o '(\([0-9.]*\) s; ETA' | head -1)
    t1=$(now)
    json=$("$py" scripts/bench/predict_reference.py --export "$out/export" --input "$out/vol128.nii.gz" \
      --output "$out/python.nii.gz" --threads "$t")
    t2=$(now)
    echo "${line//[^0-9.]/}	$(echo "$t1 - $t0" | bc)	$json	$(echo "$t2 - $t1" | bc)" >>"$rows"
    "$py" - "$out" >>"$rows.agree" <<'PY'
import sys, nibabel as nib, numpy as np
a = np.asarray(nib.load(f"{sys.argv[1]}/gtgm.nii.gz").dataobj)
b = np.asarray(nib.load(f"{sys.argv[1]}/python.nii.gz").dataobj)
print(int((a != b).sum()), a.size)
PY
  done
  "$py" - "$rows" "$t" <<'PY'
import json, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
g_case = [float(r[0]) for r in rows]; g_wall = [float(r[1]) for r in rows]
p = [json.loads(r[2]) for r in rows]; p_case = [j["seconds"] for j in p]; p_wall = [float(r[3]) for r in rows]
differ = [tuple(map(int, l.split())) for l in open(sys.argv[1] + ".agree")][-len(rows):]
def mmm(v): return f"{min(v):.2f} / {statistics.median(v):.2f} / {max(v):.2f}"
print(f"predict 128^3, threads {sys.argv[2]} ({len(rows)} runs, min / median / max):")
print(f"  per case:     gtgm {mmm(g_case)} s, python {mmm(p_case)} s, ratio {mmm([b / a for a, b in zip(g_case, p_case)])}x")
print(f"  process wall: gtgm {mmm(g_wall)} s, python {mmm(p_wall)} s, ratio {mmm([b / a for a, b in zip(g_wall, p_wall)])}x")
print(f"  labels: at most {max(d for d, _ in differ)} of {differ[0][1]} voxels differ between gtgm and python")
PY
  rm -f "$rows.agree"
done
