#!/usr/bin/env bash
# Repeats `gtgm bench infer` against its Python reference and prints min / median / max of both
# sides' seconds and of the throughput ratio, per volume size and thread count. CPU figures are
# only meaningful on a quiet machine (check `uptime`; nothing else running).
#
# Usage: scripts/bench/infer_series.sh [runs=5] [threads="1 2"] [sizes="48x96x96 128x128x128"]
#   GTGM=build/gtgm by default. Extra arguments for every run: GTGM_BENCH_ARGS="--infer-batch 4".
# Each run writes its JSON under ${OUT:-build/bench_infer_series}/.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
threads=${2:-"1 2"}
sizes=${3:-"48x96x96 128x128x128"}
gtgm=${GTGM:-build/gtgm}
out=${OUT:-build/bench_infer_series}
[ -x "$gtgm" ] || { echo "infer_series: $gtgm not found: build it first (cmake --build build --target gtgm)" >&2; exit 2; }
mkdir -p "$out"
echo "infer_series: $(uptime)"
for size in $sizes; do
  read -r d h w <<<"${size//x/ }"
  for t in $threads; do
    for r in $(seq 1 "$runs"); do
      # shellcheck disable=SC2086
      "$gtgm" bench infer --workers "$t" --infer-size "$d" "$h" "$w" ${GTGM_BENCH_ARGS:-} \
        --json "$out/${size}_t${t}_r${r}.json" >/dev/null
    done
    /usr/bin/python3 - "$out" "$size" "$t" "$runs" <<'PY'
import json, statistics, sys
out, size, t, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [json.load(open(f"{out}/{size}_t{t}_r{r}.json")) for r in range(1, runs + 1)]
def mmm(v):
    return f"{min(v):.3f} / {statistics.median(v):.3f} / {max(v):.3f}"
g = [j["gtgm"]["seconds"] for j in rows]
p = [j["reference"]["seconds"] for j in rows]
ratio = [j["throughput_ratio"] for j in rows]
dchk = max(abs(j["gtgm"]["checksum"] - j["reference"]["checksum"]) for j in rows)
labels = all(j["gtgm"]["label_sum"] == j["reference"]["label_sum"] for j in rows)
print(f"{size} threads {t} ({runs} runs, min / median / max): gtgm {mmm(g)} s, python {mmm(p)} s, "
      f"ratio {mmm(ratio)}x; checksum difference <= {dchk:.1e}, label sums {'equal' if labels else 'DIFFER'}")
PY
  done
done
