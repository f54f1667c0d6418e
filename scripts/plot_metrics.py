#!/usr/bin/env python3
"""Plots a gtgm run's metrics (RUN_DIR/metrics.jsonl) to a PNG: loss and each loss term, learning
rate, gradient norm, throughput and data-wait fraction, memory, and one panel per validation
metric (val/dice, val/score, ...: each its own colour, so none hides another).

Usage: python3 scripts/plot_metrics.py RUN_DIR [--out RUN_DIR/metrics.png] [--smooth 0.0]
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


# Validation metrics, in order of appearance: red, green, purple, brown, pink, cyan (the loss and
# other panels use matplotlib's default blue first).
VAL_COLOURS = ["#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def read_rows(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not valid JSON ({e})")
    return rows


def series(rows, key):
    xs, ys = [], []
    for r in rows:
        v = r.get(key)
        if v is not None and isinstance(v, (int, float)) and math.isfinite(v):
            xs.append(r["step"])
            ys.append(v)
    return xs, ys


def smooth(ys, alpha):
    if alpha <= 0 or not ys:
        return ys
    out, s = [], ys[0]
    for y in ys:
        s = alpha * s + (1 - alpha) * y
        out.append(s)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--out", default=None, help="PNG path (default RUN_DIR/metrics.png)")
    ap.add_argument("--smooth", type=float, default=0.0, help="exponential smoothing of losses in [0, 1)")
    args = ap.parse_args()
    path = os.path.join(args.run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        sys.exit(f"{path} does not exist (is {args.run_dir} a gtgm run directory?)")
    rows = read_rows(path)
    if not rows:
        sys.exit(f"{path} holds no rows yet")
    keys = []
    for r in rows:
        keys += [k for k in r if k != "step" and k not in keys]
    loss_keys = [k for k in keys if k == "loss" or k.startswith("loss/")]
    val_keys = [k for k in keys if k.startswith("val/")]
    mem_key = "cuda_peak_gb" if "cuda_peak_gb" in keys else "rss_gb"
    panels = [("loss", loss_keys, "log"), ("learning rate", ["lr"], "linear"), ("gradient norm", ["grad_norm"], "log"),
              ("samples/s", ["samples_per_s"], "linear"), ("data wait fraction", ["data_wait"], "linear"),
              ("memory (GB)", [mem_key], "linear")]
    # One panel per validation metric, each in its own colour: val/score is often val/dice itself,
    # and on one panel the second line hid the first.
    val_series = {k: series(rows, k) for k in val_keys}
    for i, k in enumerate(val_keys):
        same = [o for o in val_keys[:i] if val_series[o] == val_series[k] and val_series[k][0]]
        title = f"{k} (equal to {same[0]})" if same else k
        panels.append((title, [k], "linear"))
    panels = [p for p in panels if any(series(rows, k)[0] for k in p[1])]  # no empty panels
    cols = 2
    nrows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(12, 3.2 * nrows), squeeze=False)
    for ax, (title, ks, scale) in zip(axes.flat, panels):
        for k in ks:
            xs, ys = series(rows, k)
            if not xs:
                continue
            if title == "loss":
                ys = smooth(ys, args.smooth)
            colour = VAL_COLOURS[val_keys.index(k) % len(VAL_COLOURS)] if k in val_keys else None
            ax.plot(xs, ys, label=k, linewidth=1.2, color=colour, marker="o" if k in val_keys else None, markersize=3)
        if scale == "log" and all(y > 0 for k in ks for y in series(rows, k)[1]) and any(series(rows, k)[1] for k in ks):
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(ks) > 1:
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(os.path.abspath(args.run_dir), fontsize=9)
    fig.tight_layout()
    out = args.out or os.path.join(args.run_dir, "metrics.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out} ({len(rows)} rows, {len(keys)} metrics; panels: {'; '.join(t for t, _, _ in panels)})")


if __name__ == "__main__":
    main()
