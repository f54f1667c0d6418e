#!/usr/bin/env python3
"""Reference for `gtgm bench infer`: sliding-window inference written plainly in Python PyTorch,
MONAI style (a full-volume output buffer and a full-volume count map of summed importance weights,
both allocated on the inference device; windows cut from the image, batched, predicted, multiplied
by a gaussian importance map and added).

Window placement, gaussian map (sigma = patch / 8, centre (p - 1) / 2), deterministic model and
input are the same as in src/bench/infer_bench.cpp, so both sides do the same arithmetic and print
the same checksum; the figures compare the implementations (voxels/s, peak memory).

Usage: /usr/bin/python3 scripts/bench/infer_reference.py [--size 48 96 96] [--patch 32 64 64]
       [--overlap 0.5] [--batch 2] [--channels 16] [--classes 3] [--device cpu] [--threads 0]
Prints one JSON line.
"""
import argparse
import json
import math
import resource
import time

import torch


def window_starts(size, patch, overlap):
    target = max(1.0, patch * (1.0 - overlap))
    n = int(math.ceil((size - patch) / target)) + 1
    if n == 1:
        return [0]
    step = (size - patch) / (n - 1)
    return [int(round(step * i)) for i in range(n)]  # round() is half-to-even, as numpy.round


def gaussian(patch, sigma_scale=0.125):
    prof = []
    for p in patch:
        i = torch.arange(p, dtype=torch.float64)
        g = torch.exp(-((i - (p - 1) / 2.0) ** 2) / (2.0 * (sigma_scale * p) ** 2))
        prof.append(g / g.max())
    return (prof[0][:, None, None] * prof[1][None, :, None] * prof[2][None, None, :]).float()


def deterministic_(t, phase):
    """Fills t with 0.1 * sin(0.37 * k + phase), k the flat index (same formula as the C++ bench)."""
    with torch.no_grad():
        k = torch.arange(t.numel(), dtype=torch.float64)
        t.copy_((0.1 * torch.sin(0.37 * k + phase)).reshape(t.shape).to(t.dtype))


def conv_stack(channels, classes):
    net = torch.nn.Sequential(
        torch.nn.Conv3d(1, channels, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv3d(channels, channels, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv3d(channels, classes, 1))
    for idx, p in enumerate(net.parameters()):
        deterministic_(p, float(idx))
    return net.eval()


def test_image(shape):
    d, h, w = shape
    z = torch.arange(d, dtype=torch.float32)[:, None, None]
    y = torch.arange(h, dtype=torch.float32)[None, :, None]
    x = torch.arange(w, dtype=torch.float32)[None, None, :]
    return (torch.sin(0.3 * z) * torch.cos(0.2 * y) + torch.sin(0.1 * x))[None]  # [1, D, H, W]


def sliding_window(image, model, patch, overlap, batch, device):
    c, d, h, w = image.shape
    starts = [window_starts(s, p, overlap) for s, p in zip((d, h, w), patch)]
    imp = gaussian(patch).to(device)
    windows = [(z, y, x) for z in starts[0] for y in starts[1] for x in starts[2]]
    out = None
    count = torch.zeros((1, d, h, w), device=device)
    for i in range(0, len(windows), batch):
        chunk = windows[i:i + batch]
        x = torch.stack([image[:, z:z + patch[0], y:y + patch[1], xx:xx + patch[2]] for z, y, xx in chunk]).to(device)
        pred = model(x) * imp
        if out is None:
            out = torch.zeros((pred.shape[1], d, h, w), device=device)
        for j, (z, y, xx) in enumerate(chunk):
            out[:, z:z + patch[0], y:y + patch[1], xx:xx + patch[2]] += pred[j]
            count[:, z:z + patch[0], y:y + patch[1], xx:xx + patch[2]] += imp
    return out / count


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, nargs=3, default=[48, 96, 96])
    ap.add_argument("--patch", type=int, nargs=3, default=[32, 64, 64])
    ap.add_argument("--overlap", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = conv_stack(args.channels, args.classes).to(device)
    image = test_image(args.size)
    times = []
    with torch.no_grad():
        sliding_window(image, model, args.patch, args.overlap, args.batch, device)  # warm-up
        base_kb = rss_kb()
        try:
            open("/proc/self/clear_refs", "w").write("5")  # reset the peak RSS (VmHWM)
        except OSError:
            pass
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            out = sliding_window(image, model, args.patch, args.overlap, args.batch, device)
            labels = out.argmax(0).to(torch.uint8).cpu()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    with open("/proc/self/status") as f:
        hwm_kb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    voxels = args.size[0] * args.size[1] * args.size[2]
    best = min(times)
    result = {
        "impl": "python-reference", "device": str(device), "size": args.size, "patch": args.patch,
        "overlap": args.overlap, "batch": args.batch, "seconds": best, "voxels_per_s": voxels / best,
        "host_peak_delta_mb": (hwm_kb - base_kb) / 1024.0,
        "checksum": float(out.double().mean()), "label_sum": int(labels.long().sum()),
    }
    if device.type == "cuda":
        result["device_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    print(json.dumps(result))


if __name__ == "__main__":
    main()
