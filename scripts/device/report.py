#!/usr/bin/env python3
"""Markdown rows for docs/performance.md from the bench JSON files that scripts/device/check.sh
leaves in its output folder (bench_paper*.json, bench_demo.json, bench_infer.json, gpu.txt).
Standard library only: the GPU machine's python3 is enough.  Usage: report.py OUT_DIR"""
import json
import os
import sys


def load(out, name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def train_rows(out, name, label):
    j = load(out, name)
    if j is None:
        return [f"| {label} | not run (no {name}) |"]
    rows = []
    for i, ours in enumerate(j.get("gtgm", [])):
        ref = j["python"][i] if i < len(j.get("python", [])) else None
        crop = "x".join(str(c) for c in ours["crop"])
        what = (f"{label.split(',')[0]}: {ours['model']} ({ours['parameters'] / 1e6:.1f} M params), batch {ours['batch']}, "
                f"{crop}, {j['precision']}{', channels-last-3d' if j.get('channels_last') else ''}")
        cell = (f"gtgm {1e3 * ours['step_s']:.1f} ms/step, {ours['samples_per_s']:.2f} samples/s, "
                f"{ours['tflops']:.3g} TFLOP/s, peak {ours['peak_mem_mb']:.0f} MB")
        if ref is not None:
            cell += (f" vs Python {1e3 * ref['step_s']:.1f} ms, peak {ref['peak_mem_mb']:.0f} MB: step-time ratio "
                     f"**{ours['step_s'] / ref['step_s']:.3f}**")
        rows.append(f"| {what} | {cell} |")
    return rows


def infer_rows(out):
    j = load(out, "bench_infer.json")
    if j is None:
        return ["| infer | not run (no bench_infer.json) |"]
    g, r = j["gtgm"], j["reference"]
    size = "x".join(str(c) for c in j["size"])
    patch = "x".join(str(c) for c in j["patch"])
    cell = (f"gtgm {g['voxels_per_s'] / 1e6:.1f} M voxels/s vs reference {r['voxels_per_s'] / 1e6:.1f} M: "
            f"**{j['throughput_ratio']:.2f}x**")
    if "device_peak_mb" in g and "device_peak_mb" in r:
        cell += f"; device peak {g['device_peak_mb']:.0f} MB vs {r['device_peak_mb']:.0f} MB"
    return [f"| infer, {size} volume, {patch} windows, {j['channels']} ch, {j['classes']} classes, "
            f"{j['accumulate_dtype']} accumulator | {cell} |"]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py OUT_DIR (the folder scripts/device/check.sh wrote)")
    out = sys.argv[1]
    gpu = open(os.path.join(out, "gpu.txt")).read().strip() if os.path.exists(os.path.join(out, "gpu.txt")) else "CPU"
    print(f"<!-- scripts/device/report.py {out}; device: {gpu} -->")
    print("| check | result |")
    print("|---|---|")
    rows = train_rows(out, "bench_paper.json", "GTGM step")
    rows += train_rows(out, "bench_paper_b8.json", "GTGM step, batch 8")
    rows += train_rows(out, "bench_paper_cl.json", "GTGM step, channels-last-3d")
    rows += train_rows(out, "bench_demo.json", "GTGM step")
    rows += infer_rows(out)
    for line in rows:
        print(line)


if __name__ == "__main__":
    main()
