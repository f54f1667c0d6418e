#!/usr/bin/python3
"""Golden learning rates of the GTGM pretraining schedule (tests/train/test_schedule_golden.cpp).

Source: ydchen0806/GTGM pretrain/utils/utils_trainer.py, lines 237-243, with the values of
config/pretraining_all.yaml (trainer: batch_size 2, max_iterations 200000, lr 2.0e-5; lines 134-139):

        scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            self.optimizer,
            T_0=int(self.max_iterations //
                    4//self.train_batch_size * 0.4),
            T_mult=1,
            eta_min=1e-8,
        )

and `scheduler.step()` after every optimiser step (lines 307-312), so optimiser step k (0-based)
runs at the learning rate the scheduler holds after k steps. `reference_scheduler` builds it as
it is; the T_mult=2 case changes only T_mult (torch accepts integer T_mult only).

Run: /usr/bin/python3 scripts/reference/schedule_reference.py   (torch 1.13; prints C++ initialisers)
"""
import torch

MAX_ITERATIONS = 200000  # config/pretraining_all.yaml:138
BATCH_SIZE = 2           # config/pretraining_all.yaml:134
LR = 2.0e-5              # config/pretraining_all.yaml:139 and optimizer.params.lr
STEPS = [0, 1, 2, 5000, 9999, 10000, 10001, 15000, 25000, 29999, 30000, 70000, 199999]


def reference_scheduler(optimizer, t_mult=1):
    return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer,
        T_0=int(MAX_ITERATIONS // 4 // BATCH_SIZE * 0.4),
        T_mult=t_mult,
        eta_min=1e-8,
    )


def lrs_at(steps, t_mult):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=LR, weight_decay=5.0e-2, betas=(0.9, 0.999))
    sched = reference_scheduler(opt, t_mult)
    out = {}
    for k in range(max(steps) + 1):
        if k in steps:
            out[k] = opt.param_groups[0]["lr"]  # the lr optimiser step k uses
        sched.step()  # once per iteration, as utils_trainer.py:311-312
    return sched.T_0, [out[k] for k in steps]


def main():
    print("// torch", torch.__version__)
    print("// steps:", ", ".join(str(s) for s in STEPS))
    for t_mult in (1, 2):
        t0, values = lrs_at(STEPS, t_mult)
        print(f"// T_0 = {t0}, T_mult = {t_mult}, eta_min = 1e-8, lr = {LR}")
        print("{" + ", ".join(f"{v:.17g}" for v in values) + "};")


if __name__ == "__main__":
    main()
