#!/usr/bin/env python3
"""The Python reference for `gtgm bench data`: the same loader work done the obvious way.

It runs `gtgm bench data` (which writes a synthetic preprocessing cache and measures the C++
loaders), then reads the SAME cache files (.gvol through np.memmap) with a torch DataLoader whose
worker processes crop and augment each sample with numpy/scipy, exactly as MONAI/batchgenerators-
style pipelines do, with the same worker count, batch size, crop sizes and augmentation
probabilities. Prints both figures and the ratio gtgm / Python.

    python3 scripts/bench/data_reference.py --gtgm build/gtgm --workers 2 --batches 20
"""
import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.ndimage as ndi
import torch

MAGIC = b"GTGMVOL\x1a"
DTYPES = {1: np.float32, 2: np.float16, 3: np.uint8, 4: np.int16, 5: np.int32}


def open_gvol(path):
    """Memory-maps a raw .gvol cache array (see include/gtgm/data/cache_format.h)."""
    with open(path, "rb") as f:
        head = f.read(448)
    assert head[:8] == MAGIC, f"{path}: not a gtgm cache file"
    dtype, comp = head[16], head[17]
    assert comp == 0, f"{path}: compressed caches are not supported by the reference"
    shape = struct.unpack_from("<4q", head, 24)
    offset = struct.unpack_from("<Q", head, 416)[0]
    return np.memmap(path, dtype=DTYPES[dtype], mode="r", offset=offset, shape=shape)


def crop(arr, start, size, pad):
    """arr [C, D, H, W] -> [C, *size] float32, `pad` outside."""
    out = np.full((arr.shape[0],) + tuple(size), pad, dtype=np.float32)
    src, dst = [slice(None)], [slice(None)]
    for a in range(3):
        lo, hi = max(start[a], 0), min(start[a] + size[a], arr.shape[a + 1])
        src.append(slice(lo, hi))
        dst.append(slice(lo - start[a], hi - start[a]))
    out[tuple(dst)] = arr[tuple(src)]
    return out


def random_start(shape, size, rng):
    return [int(rng.integers(0, shape[a] - size[a] + 1)) if shape[a] >= size[a] else -((size[a] - shape[a]) // 2)
            for a in range(3)]


def fit(x, size, order):
    """Centre crop / pad (edge) a zoomed array back to `size`."""
    out = x
    for a in range(x.ndim - 3, x.ndim):
        n, want = out.shape[a], size[a - (x.ndim - 3)]
        if n > want:
            lo = (n - want) // 2
            out = np.take(out, range(lo, lo + want), axis=a)
        elif n < want:
            pad = [(0, 0)] * out.ndim
            pad[a] = ((want - n) // 2, want - n - (want - n) // 2)
            out = np.pad(out, pad, mode="edge" if order else "constant")
    return out


def minmax(v):
    lo, hi = v.min(), v.max()
    return (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)


def pretrain_view(v, rng):
    """PAPER.md: flips/transposes, ONE of rescale/flip/intensity/noise/blur, min-max."""
    v = minmax(v)
    for ax in range(3):
        if rng.random() < 0.5:
            v = np.flip(v, ax)
    if rng.random() < 0.5:
        v = np.swapaxes(v, 1, 2)
    op = rng.integers(5)
    if op == 0:
        z = math.exp(rng.uniform(-math.log(1.5), math.log(1.5)))
        v = fit(ndi.zoom(v, z, order=1), v.shape, 1)
    elif op == 1:
        v = np.flip(v, int(rng.integers(3)))
    elif op == 2:
        v = np.clip(v * (1 + rng.uniform(-0.1, 0.1)) + rng.uniform(-0.1, 0.1), 0, 1)
    elif op == 3:
        v = v + rng.normal(0, rng.uniform(0.01, 0.2), v.shape)
    else:
        k = int(rng.choice([3, 5, 7, 9]))
        s = rng.uniform(0, 2)
        if s > 1e-6:
            v = ndi.gaussian_filter(v, s, truncate=(k // 2) / s, mode="nearest")
    return np.ascontiguousarray(minmax(v), dtype=np.float32)[None]


class Cache:
    def __init__(self, root):
        self.root = root
        with open(os.path.join(root, "cache.json")) as f:
            self.cases = json.load(f)["cases"]
        self.arrays = None

    def open(self):
        if self.arrays is None:  # lazily, once per worker process
            self.arrays = [(open_gvol(os.path.join(self.root, c["image"])),
                            open_gvol(os.path.join(self.root, c["label"])) if c["label"] else None)
                           for c in self.cases]


class PretrainSet(torch.utils.data.Dataset):
    def __init__(self, cache, size, n, seed):
        self.cache, self.size, self.n, self.seed = cache, size, n, seed

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.cache.open()
        rng = np.random.default_rng(self.seed + i)
        c = i % len(self.cache.cases)
        img = self.cache.arrays[c][0]
        pad = self.cache.cases[c]["background"]
        shape = img.shape[1:]
        s1 = random_start(shape, self.size, rng)
        s2 = [min(max(s1[a] + int(rng.integers(-(self.size[a] // 2), self.size[a] // 2 + 1)), 0),
                  max(shape[a] - self.size[a], 0)) for a in range(3)]
        v1 = crop(img, s1, self.size, pad)[0]
        v2 = crop(img, s2, self.size, pad)[0]
        centre = [0.5 * (s1[a] + s2[a]) + 0.5 * (self.size[a] - 1) for a in range(3)]
        return torch.from_numpy(pretrain_view(v1, rng)), torch.from_numpy(pretrain_view(v2, rng)), torch.tensor(centre)


class SegSet(torch.utils.data.Dataset):
    def __init__(self, cache, size, n, seed):
        self.cache, self.size, self.n, self.seed = cache, size, n, seed

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.cache.open()
        rng = np.random.default_rng(self.seed + i)
        c = i % len(self.cache.cases)
        img, lab = self.cache.arrays[c]
        meta = self.cache.cases[c]
        shape = img.shape[1:]
        size = self.size
        if rng.random() < 0.33 and meta["fg"]:
            locs = meta["fg"][list(meta["fg"])[int(rng.integers(len(meta["fg"])))]]
            loc = locs[int(rng.integers(len(locs)))]
            start = [int(rng.integers(max(0, loc[a] - size[a] + 1), min(shape[a] - size[a], loc[a]) + 1))
                     if shape[a] > size[a] else -((size[a] - shape[a]) // 2) for a in range(3)]
        else:
            start = random_start(shape, size, rng)
        x = crop(img, start, size, meta["background"])
        y = crop(lab, start, size, 0)
        for ax in (1, 2, 3):
            if rng.random() < 0.5:
                x, y = np.flip(x, ax), np.flip(y, ax)
        if rng.random() < 0.5:
            k = int(rng.integers(1, 4)) if size[1] == size[2] else 2
            x, y = np.rot90(x, k, (2, 3)), np.rot90(y, k, (2, 3))
        if rng.random() < 0.2:
            z = rng.uniform(0.7, 1.4)
            x = fit(ndi.zoom(x, (1, z, z, z), order=1), size, 1)
            y = fit(ndi.zoom(y, (1, z, z, z), order=0), size, 0)
        if rng.random() < 0.15:
            x = x * rng.uniform(0.75, 1.25) + rng.uniform(-0.1, 0.1)
        if rng.random() < 0.3:
            g = rng.uniform(0.7, 1.5)
            lo, hi = x.min(), x.max()
            x = ((x - lo) / max(hi - lo, 1e-8)) ** g * (hi - lo) + lo
        if rng.random() < 0.1:
            x = x + rng.normal(0, math.sqrt(rng.uniform(0, 0.1)), x.shape)
        if rng.random() < 0.2:
            x = ndi.gaussian_filter(x, (0, *([rng.uniform(0.5, 1.0)] * 3)), mode="nearest")
        return (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray(y).astype(np.int64)))


def one_thread(_):
    torch.set_num_threads(1)


def measure(dataset, batch, workers, batches, warmup):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, num_workers=workers,
                                         worker_init_fn=one_thread if workers else None)
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    dt = time.perf_counter() - t0
    return batches * batch / dt, 1000 * dt / batches


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gtgm", default="build/gtgm", help="the gtgm binary")
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--cache", default="", help="existing cache dir (default: the one gtgm writes)")
    p.add_argument("--python-only", action="store_true", help="skip gtgm; needs --cache")
    args = p.parse_args()
    torch.set_num_threads(1)

    tmp = tempfile.mkdtemp(prefix="gtgm_bench_ref_")
    try:
        cache = args.cache or os.path.join(tmp, "cache")
        cpp = None
        if not args.python_only:
            out = os.path.join(tmp, "gtgm.json")
            cmd = [args.gtgm, "bench", "data", "--workers", str(args.workers), "--iters", str(args.batches),
                   "--warmup", str(args.warmup), "--data-batch", str(args.batch), "--json", out]
            cmd += ["--data-cache", args.cache] if args.cache else ["--data-keep-cache", cache]
            print("running:", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
            with open(out) as f:
                cpp = json.load(f)
        crop_p = cpp["pretrain_crop"] if cpp else [32, 160, 160]
        crop_s = cpp["seg_patch"] if cpp else [128, 128, 128]
        n = (args.batches + args.warmup + 2 * args.workers + 2) * args.batch
        c = Cache(cache)
        pre, pre_ms = measure(PretrainSet(c, crop_p, n, 42), args.batch, args.workers, args.batches, args.warmup)
        seg, seg_ms = measure(SegSet(c, crop_s, n, 42), args.batch, args.workers, args.batches, args.warmup)
        print(f"python reference: {args.workers} workers (processes), batch {args.batch}")
        print(f"  pretraining  {crop_p} pairs/s:    {pre:8.2f}  ({pre_ms:.1f} ms/batch)")
        print(f"  segmentation {crop_s} patches/s:  {seg:8.2f}  ({seg_ms:.1f} ms/batch)")
        if cpp:
            print(f"gtgm / python: pretraining {cpp['pretrain_pairs_per_s'] / pre:.2f}x "
                  f"({cpp['pretrain_pairs_per_s']:.2f} vs {pre:.2f} pairs/s), segmentation "
                  f"{cpp['seg_patches_per_s'] / seg:.2f}x ({cpp['seg_patches_per_s']:.2f} vs {seg:.2f} patches/s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
