#!/usr/bin/env python3
"""Goldens for gtgm's train/ area, from PyTorch's own implementations:

- learning-rate schedules: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts (SGDR, the
  paper's schedule), CosineAnnealingLR and PolynomialLR, stepped one optimiser step at a time;
- AdamW and SGD (Nesterov) with two parameter groups (weight decay on matrices only), driven by a
  given learning rate per step.

Writes tests/data/train/train_golden.json. Run: /usr/bin/python3 scripts/reference/train_reference.py
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "train", "train_golden.json")


def schedule(make, lr, steps):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def schedules():
    lr, eta = 2e-5, 1e-6
    S = torch.optim.lr_scheduler
    return {
        "sgdr_t10_m1": {"lr": lr, "min_lr": eta, "t0": 10, "mult": 1, "steps": 45,
                        "values": schedule(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=1, eta_min=eta), lr, 45)},
        "sgdr_t4_m2": {"lr": lr, "min_lr": eta, "t0": 4, "mult": 2, "steps": 70,
                       "values": schedule(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=eta), lr, 70)},
        "cosine_50": {"lr": lr, "min_lr": eta, "steps": 50,
                      "values": schedule(lambda o: S.CosineAnnealingLR(o, T_max=50, eta_min=eta), lr, 50)},
        "poly_50": {"lr": 1e-2, "power": 0.9, "steps": 50,
                    "values": schedule(lambda o: S.PolynomialLR(o, total_iters=50, power=0.9), 1e-2, 50)},
    }


def optimizer_run(kind):
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(2, 3, generator=g)
    bias = torch.randn(2, generator=g)
    scale = torch.rand(2, generator=g) + 0.5
    x = torch.randn(4, 3, generator=g)
    init = {"lin.weight": weight.tolist(), "lin.bias": bias.tolist(), "norm.weight": scale.tolist(), "x": x.tolist()}
    w, b, s = (torch.nn.Parameter(t.clone()) for t in (weight, bias, scale))
    groups = [{"params": [w], "weight_decay": 0.05}, {"params": [b, s], "weight_decay": 0.0}]
    if kind == "adamw":
        opt = torch.optim.AdamW(groups, lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    else:
        opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True)
    lrs = [0.1, 0.08, 0.05, 0.02, 0.01, 0.1]
    losses = []
    for lr in lrs:
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        loss = (((x @ w.t() + b) * s) ** 2).mean() + 0.1 * (w ** 3).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"init": init, "lrs": lrs, "losses": losses,
            "final": {"lin.weight": w.detach().tolist(), "lin.bias": b.detach().tolist(), "norm.weight": s.detach().tolist()}}


def main():
    golden = {"torch": torch.__version__, "schedules": schedules(),
              "adamw": optimizer_run("adamw"), "sgd": optimizer_run("sgd")}
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=1)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
