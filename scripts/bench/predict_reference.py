#!/usr/bin/env python3
"""Reference for `gtgm predict` on one volume: the same steps written plainly in Python PyTorch, as a
MONAI/nnU-Net user would run an exported gtgm network (python/gtgm_models.py): read the NIfTI with
nibabel, crop to the non-zero box, normalise with the plan's parameters, sliding window (the
window placement, gaussian map and batching of scripts/bench/infer_reference.py), argmax, paste
back into the source grid and write the labels with nibabel.

It covers only what the benchmark needs: one-channel CT or z-score plans, and an input already on
the plan's grid (its orientation and spacing), so that no resampling is needed (gtgm still runs
its resampler, an identity there; the reference skips it). Anything else is refused.

Usage: /usr/bin/python3 scripts/bench/predict_reference.py --export EXPORT_DIR --input IN.nii.gz
       --output OUT.nii.gz [--patch D H W] [--overlap 0.5] [--batch 4] [--threads 0] [--repeats 1]
The patch defaults to architecture.json's data_config crop_size (what gtgm predict uses).
Prints one JSON line: the best of `repeats` timings from reading the input to writing the output,
plus the process's time from start (import torch included) to the end of the first repeat.
"""
import argparse
import json
import os
import sys
import time

T_START = time.perf_counter()

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import gtgm_models  # noqa: E402
from infer_reference import sliding_window  # noqa: E402


def fail(msg):
    sys.exit(f"predict_reference: {msg}")


def normalise(x, p):
    if p.get("clip"):
        x = np.clip(x, p["clip_lo"], p["clip_hi"])
    if p["scheme"] == "ct":
        return (x - np.float32(p["mean"])) / np.float32(max(p["std"], 1e-8))
    if p["scheme"] == "zscore":
        return (x - x.mean()) / max(float(x.std()), 1e-8)
    fail(f"normalisation scheme {p['scheme']} is not covered by the reference")


def predict(args, net, plan, patch):
    img = nib.load(args.input)
    if "".join(nib.aff2axcodes(img.affine)) != plan["orientation"]:
        fail(f"{args.input} is {''.join(nib.aff2axcodes(img.affine))}, the plan wants {plan['orientation']}: "
             "the reference does not reorient")
    spacing_dhw = list(img.header.get_zooms()[:3])[::-1]
    if not np.allclose(spacing_dhw, plan["target_spacing"], rtol=1e-5):
        fail(f"{args.input} has spacing {spacing_dhw} (D, H, W), the plan wants {plan['target_spacing']}: "
             "the reference does not resample")
    data = np.asarray(img.dataobj, dtype=np.float32)
    if data.ndim != 3:
        fail(f"{args.input}: expected one 3D channel, got shape {data.shape}")
    vol = np.ascontiguousarray(data.transpose(2, 1, 0))  # NIfTI i, j, k -> D, H, W
    box = [slice(0, s) for s in vol.shape]
    if plan.get("crop_nonzero"):
        nz = vol != 0
        for a in range(3):
            other = tuple(b for b in range(3) if b != a)
            idx = np.flatnonzero(nz.any(axis=other))
            box[a] = slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else slice(0, vol.shape[a])
    x = normalise(vol[tuple(box)], plan["normalization"][0]).astype(np.float32)
    image = torch.from_numpy(np.ascontiguousarray(x))[None]
    for a in range(3):
        if image.shape[1 + a] < patch[a]:
            fail(f"the cropped image {list(image.shape[1:])} is smaller than the patch {patch}: not covered")
    with torch.no_grad():
        logits = sliding_window(image, net, patch, args.overlap, args.batch, torch.device("cpu"))
        labels = logits.argmax(0).to(torch.uint8).numpy()
    full = np.zeros(vol.shape, dtype=np.uint8)
    full[tuple(box)] = labels
    out = nib.Nifti1Image(np.ascontiguousarray(full.transpose(2, 1, 0)), img.affine)
    out.header.set_data_dtype(np.uint8)
    nib.save(out, args.output)
    return logits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--patch", type=int, nargs=3)
    ap.add_argument("--overlap", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    arch = json.load(open(os.path.join(args.export, "architecture.json")))
    plan = arch["plan"]
    if len(plan["normalization"]) != 1:
        fail(f"{len(plan['normalization'])} channels: the reference covers one")
    patch = args.patch or arch["data_config"]["crop_size"]
    if isinstance(patch, str):  # architecture.json keeps config values as their YAML text
        patch = json.loads(patch)
    net = gtgm_models.load_exported(args.export)
    times = []
    first_end = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        logits = predict(args, net, plan, patch)
        times.append(time.perf_counter() - t0)
        first_end = first_end or time.perf_counter()
    print(json.dumps({"impl": "python-reference", "seconds": min(times), "process_seconds": first_end - T_START,
                      "threads": torch.get_num_threads(), "patch": list(patch), "overlap": args.overlap,
                      "batch": args.batch, "checksum": float(logits.double().mean())}))


if __name__ == "__main__":
    main()
