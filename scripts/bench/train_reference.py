#!/usr/bin/env python3
"""The GTGM pretraining step in plain Python PyTorch, for `gtgm bench train`.

Same model as gtgm's (3D ResNet of scripts/reference/models_reference.py: 3x7x7 stride (1,2,2)
stem, max-pool, 4 stages; a Linear to embed_dim when the width differs; projectors Linear-BN-ReLU-
Linear), same loss (symmetric CLIP with the two directions summed, temperature 0.07, on each view
against the text projection, + 0.01 x standardised Barlow Twins on E1/E2, lambda 0.0051), same
optimiser (AdamW lr 2e-5, weight decay 0.05 except 1-D params and biases, gradient clipping at 1.0),
random views in [0, 1] and random 'cached' text embeddings, the same threads. Prints one JSON line.

Usage: train_reference.py --model demo|paper --crop D H W --batch B --steps N --warmup W --threads T
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from models_reference import ResNet3D  # noqa: E402

PRESETS = {  # depth, base channels, embed_dim, proj hidden, proj dim, text dim (as gtgm's bench)
    "demo": (18, 8, 128, 128, 64, 12),
    "paper": (50, 64, 2048, 2048, 512, 768),
}


def head(cin, hidden, out):
    return nn.Sequential(nn.Linear(cin, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))


class Gtgm(nn.Module):
    def __init__(self, depth, base, embed, hidden, proj, text_dim):
        super().__init__()
        self.encoder = ResNet3D(depth, 1, base)
        width = base * 8 * (4 if depth >= 50 else 1)
        self.embed = nn.Linear(width, embed) if width != embed else nn.Identity()
        self.vision_proj = head(embed, hidden, proj)
        self.text_proj = head(text_dim, hidden, proj)

    def image(self, x):
        e = self.embed(self.encoder(x)[0])
        return e, self.vision_proj(e)

    def forward(self, x1, x2, t):
        e1, v1 = self.image(x1)
        e2, v2 = self.image(x2)
        return e1, e2, v1, v2, self.text_proj(t)


def clip(img, txt, temperature=0.07):
    img, txt = F.normalize(img.float(), dim=1), F.normalize(txt.float(), dim=1)
    logits = img @ txt.t() / temperature
    target = torch.arange(img.shape[0], device=img.device)
    return F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)


def barlow(z1, z2, lambd=0.0051):
    z1, z2 = z1.float(), z2.float()
    n = z1.shape[0]
    z1 = (z1 - z1.mean(0)) / z1.std(0, unbiased=False).clamp_min(1e-5)
    z2 = (z2 - z2.mean(0)) / z2.std(0, unbiased=False).clamp_min(1e-5)
    c = z1.t() @ z2 / n
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return on + lambd * off


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(PRESETS), default="demo")
    ap.add_argument("--crop", type=int, nargs=3, default=[16, 48, 48])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16", "auto"])
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = Gtgm(*PRESETS[a.model]).to(dev)
    if a.channels_last and dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last_3d)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.endswith("bias")]
    plain = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and not n.endswith("bias"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": plain, "weight_decay": 0.0}], lr=2e-5)
    precision = a.precision
    if precision == "auto":
        precision = "bf16" if dev.type == "cuda" else "fp32"
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.cuda.amp.GradScaler() if precision == "fp16" else None
    text_dim = PRESETS[a.model][5]
    gen = torch.Generator().manual_seed(1)
    shape = (a.batch, 1, *a.crop)

    def step():
        x1 = torch.rand(shape, generator=gen).to(dev, non_blocking=True)
        x2 = torch.rand(shape, generator=gen).to(dev, non_blocking=True)
        t = torch.randn(a.batch, text_dim, generator=gen).to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            e1, e2, v1, v2, tp = model(x1, x2, t)
        loss = clip(v1, tp) + clip(v2, tp) + 0.01 * barlow(e1, e2)
        if scaler:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        return loss.item()  # what a training loop logging every step reads back

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    step_s = (time.perf_counter() - start) / a.steps
    peak = torch.cuda.max_memory_allocated() / 1e6 if dev.type == "cuda" else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"impl": "python", "model": a.model, "parameters": params, "step_s": step_s,
                      "peak_mem_mb": peak, "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
