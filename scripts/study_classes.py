#!/usr/bin/env python3
"""Per-class view of the pretraining study (scripts/study.sh, docs/evidence.md).

gtgm eval's table averages Dice over the foreground classes; on the study's phantoms the small
classes are often not learnt at all, so the mean moves with whether a run happens to pick up a
small organ. This reads every run's predictions/summary.json under study_run/eval/runs/ and prints,
per class, label count and init: mean +- sd over seeds, and per pretrained init the paired difference
init - random with a 95% percentile bootstrap CI (numpy, 10,000 resamples, seed 0).

    python3 scripts/study_classes.py [study_run/eval]
"""
import json
import os
import re
import sys
from collections import defaultdict

import numpy as np

RUN = re.compile(r"^(?P<init>.+)-f(?P<frac>[0-9.]+)-s(?P<seed>-?\d+)$")


def load(eval_dir):
    """{(dataset, frac, init, seed): {class: dice}} from every finished run."""
    out = {}
    runs = os.path.join(eval_dir, "runs")
    for ds in sorted(os.listdir(runs)):
        for name in sorted(os.listdir(os.path.join(runs, ds))):
            m = RUN.match(name)
            summary = os.path.join(runs, ds, name, "predictions", "summary.json")
            if not m or not os.path.exists(os.path.join(runs, ds, name, "suite_result.json")):
                continue
            with open(summary) as f:
                s = json.load(f)
            dice = {c: v.get("dice") for c, v in s["class_means"].items()}
            dice["mean"] = s["mean"]["dice"]
            out[(ds, float(m["frac"]), m["init"], int(m["seed"]))] = dice
    return out


def bootstrap_ci(d, resamples=10000, seed=0):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(resamples, len(d)))
    means = np.asarray(d)[idx].mean(axis=1)
    return np.percentile(means, 2.5), np.percentile(means, 97.5)


def main():
    eval_dir = sys.argv[1] if len(sys.argv) > 1 else "study_run/eval"
    runs = load(eval_dir)
    if not runs:
        sys.exit(f"study_classes: no finished runs under {eval_dir}/runs")
    inits = sorted({k[2] for k in runs}, key=lambda i: (i == "random", i))
    cells = defaultdict(dict)  # (ds, frac, init) -> seed -> dice dict
    for (ds, frac, init, seed), d in runs.items():
        cells[(ds, frac, init)][seed] = d
    classes = sorted({c for d in runs.values() for c in d if c != "mean"}, key=int) + ["mean"]
    for ds in sorted({k[0] for k in cells}):
        for frac in sorted({k[1] for k in cells if k[0] == ds}):
            print(f"\n{ds}, label fraction {frac:g}: Dice % per class, mean +- sd over seeds "
                  f"[paired init - random: mean (95% CI), wins]")
            for c in classes:
                line = [f"  class {c:>4}" if c != "mean" else "  fg mean   "]
                base = cells.get((ds, frac, "random"), {})
                for init in inits:
                    cell = cells.get((ds, frac, init), {})
                    v = [100 * cell[s][c] for s in sorted(cell) if cell[s].get(c) is not None]
                    if not v:
                        line.append(f"{init} -")
                        continue
                    text = f"{init} {np.mean(v):5.1f}+-{np.std(v, ddof=1) if len(v) > 1 else 0:4.1f}"
                    seeds = [s for s in sorted(cell) if s in base and cell[s].get(c) is not None
                             and base[s].get(c) is not None]
                    if init != "random" and len(seeds) >= 2:
                        d = [100 * (cell[s][c] - base[s][c]) for s in seeds]
                        lo, hi = bootstrap_ci(d)
                        wins = sum(x > 0 for x in d)
                        text += f" [{np.mean(d):+5.1f} ({lo:+.1f}, {hi:+.1f}) {wins}/{len(d)}]"
                    line.append(text)
                print(" | ".join(line))


if __name__ == "__main__":
    main()
