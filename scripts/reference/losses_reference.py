#!/usr/bin/python3
"""Goldens for gtgm's losses (tests/losses/test_losses.cpp), in plain PyTorch.

Written from the papers' / reference implementations' formulas, independently of the C++ code:
CLIP (open_clip style), Barlow Twins (facebookresearch/barlowtwins: BatchNorm1d(affine=False) then
c = z1n.T @ z2n / N), the GTGM reference code's unstandardised covar_loss (/ 2), VICReg
(facebookresearch/vicreg), BYOL, SimSiam, nnU-Net style soft Dice + CE, class-balanced affinity BCE.
Inputs are float64 (the learnable logit scale float32) so the comparison tolerance is 1e-5.

    /usr/bin/python3 scripts/reference/losses_reference.py  # writes tests/data/losses/losses_golden.pt
"""
import math
import os

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "losses", "losses_golden.pt")
g = torch.Generator().manual_seed(1234)
golden = {}


def rnd(*shape, scale=1.0, dtype=torch.float64):
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def put(prefix, **tensors):
    for k, v in tensors.items():
        golden[f"{prefix}/{k}"] = v.detach().clone().contiguous()


# ---------------- CLIP ----------------
def clip_ref(img, txt, scale, reduction):
    img = F.normalize(img, dim=-1)
    txt = F.normalize(txt, dim=-1)
    logits = scale * img @ txt.t()
    labels = torch.arange(img.shape[0])
    l1 = F.cross_entropy(logits, labels)
    l2 = F.cross_entropy(logits.t(), labels)
    return l1 + l2 if reduction == "sum" else (l1 + l2) / 2


for reduction in ("sum", "mean"):
    img = rnd(6, 5, scale=3.0).requires_grad_()
    txt = rnd(6, 5).requires_grad_()
    loss = clip_ref(img, txt, 1 / 0.07, reduction)
    loss.backward()
    put(f"clip_{reduction}", image=img, text=txt, loss=loss, grad_image=img.grad, grad_text=txt.grad)

# learnable, log-parametrised, clamped to [1, max_scale]; float32 like the C++ parameter.
for name, temperature, max_scale in (("clip_learnable", 0.07, 100.0), ("clip_clamped", 0.005, 100.0)):
    img = rnd(6, 5).requires_grad_()
    txt = rnd(6, 5).requires_grad_()
    log_scale = torch.tensor(math.log(1 / temperature), dtype=torch.float32, requires_grad=True)
    scale = log_scale.clamp(0, math.log(max_scale)).exp()
    loss = clip_ref(img, txt, scale.double(), "mean")
    loss.backward()
    put(name, image=img, text=txt, loss=loss, grad_image=img.grad, grad_text=txt.grad, grad_log_scale=log_scale.grad,
        temperature=torch.tensor(temperature), max_scale=torch.tensor(max_scale))


# ---------------- Barlow Twins ----------------
def off_diagonal(x):
    n, m = x.shape
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def barlow_ref(z1, z2, lambd=0.0051):
    bn = torch.nn.BatchNorm1d(z1.shape[1], affine=False).double()  # train mode: biased var, eps 1e-5
    c = bn(z1).T @ bn(z2) / z1.shape[0]
    on = torch.diagonal(c).add(-1).pow(2).sum()
    off = off_diagonal(c).pow(2).sum()
    return on + lambd * off


def covar_ref(z1, z2, batch):  # GTGM reference code's covar_loss
    c = torch.mm(z1.T, z2) / batch
    on = torch.diagonal(c).add(-1).pow(2).sum()
    off = off_diagonal(c).pow(2).sum()
    return (on + 0.0051 * off) / 2


z1 = rnd(8, 6, scale=2.0).requires_grad_()
z2 = (z1.detach() * 0.5 + rnd(8, 6)).requires_grad_()
loss = barlow_ref(z1, z2)
loss.backward()
put("barlow", z1=z1, z2=z2, loss=loss, grad_z1=z1.grad, grad_z2=z2.grad)
z1.grad = None
z2.grad = None
loss = covar_ref(z1, z2, 8)
loss.backward()
put("barlow_unstandardized", z1=z1, z2=z2, loss=loss, grad_z1=z1.grad, grad_z2=z2.grad)


# ---------------- VICReg ----------------
def vicreg_ref(x, y, sim=25.0, std=25.0, cov=1.0):
    n, d = x.shape
    repr_loss = F.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cov_x = (x.T @ x) / (n - 1)
    cov_y = (y.T @ y) / (n - 1)
    cov_loss = off_diagonal(cov_x).pow(2).sum().div(d) + off_diagonal(cov_y).pow(2).sum().div(d)
    return sim * repr_loss + std * std_loss + cov * cov_loss


x = rnd(8, 6, scale=0.7).requires_grad_()
y = (x.detach() + rnd(8, 6, scale=0.3)).requires_grad_()
loss = vicreg_ref(x, y)
loss.backward()
put("vicreg", z1=x, z2=y, loss=loss, grad_z1=x.grad, grad_z2=y.grad)


# ---------------- BYOL / SimSiam ----------------
def byol_d(p, z):
    return 2 - 2 * (F.normalize(p, dim=-1) * F.normalize(z.detach(), dim=-1)).sum(dim=-1)


def simsiam_d(p, z):
    return -F.cosine_similarity(p, z.detach(), dim=-1).mean()


p1, p2, t1, t2 = (rnd(5, 4).requires_grad_() for _ in range(4))
loss = (byol_d(p1, t2) + byol_d(p2, t1)).mean()
loss.backward()
put("byol", p1=p1, p2=p2, z1=t1, z2=t2, loss=loss, grad_p1=p1.grad, grad_p2=p2.grad)
p1.grad = None
p2.grad = None
loss = simsiam_d(p1, t2) / 2 + simsiam_d(p2, t1) / 2
loss.backward()
put("simsiam", p1=p1, p2=p2, z1=t1, z2=t2, loss=loss, grad_p1=p1.grad, grad_p2=p2.grad)

# BYOL momentum schedule: 1 - (1 - base) * (cos(pi k / K) + 1) / 2
ks = torch.tensor([0, 1, 50, 99, 100], dtype=torch.float64)
put("byol_momentum", steps=ks, values=1 - (1 - 0.996) * (torch.cos(math.pi * ks / 100) + 1) / 2)


# ---------------- Dice + CE ----------------
def dice_ce_ref(logits, target, batch_dice, include_bg, smooth=1e-5):
    ce = F.cross_entropy(logits, target[:, 0])
    probs = torch.softmax(logits, 1)
    onehot = torch.zeros_like(probs)
    onehot.scatter_(1, target, 1)
    axes = ([0] if batch_dice else []) + list(range(2, logits.ndim))
    tp = (probs * onehot).sum(axes)
    fp = (probs * (1 - onehot)).sum(axes)
    fn = ((1 - probs) * onehot).sum(axes)
    dc = (2 * tp + smooth) / torch.clip(2 * tp + fp + fn + smooth, 1e-8)
    if not include_bg:
        dc = dc[1:] if batch_dice else dc[:, 1:]
    dice = 1 - dc.mean()
    return ce + dice, dice, ce


target = torch.randint(0, 3, (2, 1, 4, 5, 3), generator=g)
for batch_dice in (False, True):
    for include_bg in (False, True):
        logits = rnd(2, 3, 4, 5, 3).requires_grad_()
        total, dice, ce = dice_ce_ref(logits, target, batch_dice, include_bg)
        total.backward()
        put(f"dice_ce_b{int(batch_dice)}_bg{int(include_bg)}", logits=logits, target=target, total=total, dice=dice,
            ce=ce, grad_logits=logits.grad)

# deep supervision: outputs at full and half resolution, nnU-Net weights for 3 outputs (last is 0)
w = torch.tensor([1.0, 0.5, 0.25], dtype=torch.float64)
w[-1] = 0
w = w / w.sum()
full = rnd(2, 3, 4, 6, 6).requires_grad_()
half = rnd(2, 3, 2, 3, 3).requires_grad_()
low = rnd(2, 3, 1, 2, 2).requires_grad_()
tgt = torch.randint(0, 3, (2, 1, 4, 6, 6), generator=g)
total = 0
for wi, out in zip(w, (full, half, low)):
    if wi == 0:
        continue
    t = F.interpolate(tgt.float(), size=out.shape[2:], mode="nearest").long()
    total = total + wi * dice_ce_ref(out, t, False, False)[0]
total.backward()
put("deep_supervision", full=full, half=half, low=low, target=tgt, weights=w, total=total, grad_full=full.grad,
    grad_half=half.grad)


# ---------------- affinity BCE ----------------
def affinity_ref(logits, target, mask, balance, min_ratio=0.05):
    m = torch.ones_like(logits) if mask is None else (mask != 0).to(logits.dtype).expand_as(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    w = m
    if balance:
        with torch.no_grad():
            per_c = []
            for c in range(logits.shape[1]):
                f = (target[:, c] * m[:, c]).sum() / m[:, c].sum().clamp_min(1)
                per_c.append(f.clamp(min_ratio, 1 - min_ratio))
            f = torch.stack(per_c).view(1, -1, *([1] * (logits.ndim - 2)))
            w = m * (target * 0.5 / f + (1 - target) * 0.5 / (1 - f))
    return (w * bce).sum() / m.sum().clamp_min(1)


aff_t = (torch.rand(2, 3, 3, 4, 4, generator=g) < 0.8).double()
aff_m = (torch.rand(2, 1, 3, 4, 4, generator=g) < 0.9).long()
for balance in (False, True):
    for use_mask in (False, True):
        logits = rnd(2, 3, 3, 4, 4).requires_grad_()
        loss = affinity_ref(logits, aff_t, aff_m if use_mask else None, balance)
        loss.backward()
        put(f"affinity_b{int(balance)}_m{int(use_mask)}", logits=logits, target=aff_t, mask=aff_m, loss=loss,
            grad_logits=logits.grad)

# ---------------- GTGM objective (clip sum, vlp 1, barlow w=0.01) ----------------
v1, v2, tt = (rnd(6, 8).requires_grad_() for _ in range(3))
e1 = rnd(6, 10, scale=2.0).requires_grad_()
e2 = (e1.detach() + rnd(6, 10)).requires_grad_()
c1 = clip_ref(v1, tt, 1 / 0.07, "sum")
c2 = clip_ref(v2, tt, 1 / 0.07, "sum")
vr = barlow_ref(e1, e2)
total = c1 + c2 + 0.01 * vr
total.backward()
put("objective", v1=v1, v2=v2, t=tt, e1=e1, e2=e2, clip_v1=c1, clip_v2=c2, barlow=vr, total=total, grad_v1=v1.grad,
    grad_t=tt.grad, grad_e1=e1.grad)

# ---------------- the reference's fine-tuning loss on ResUNet's sigmoid outputs ----------------
# finetune/resunet.py:110 returns torch.sigmoid(x); finetune/task1.py:229 is MONAI's
# DiceCELoss(to_onehot_y=True, softmax=True) with its defaults (include_background=True, per-sample
# Dice, smooth 1e-5): softmax and cross-entropy of the sigmoids (MONAI is not installed here; this
# is what that loss computes).
logits = rnd(2, 3, 4, 5, 3, scale=3.0).requires_grad_()
total, dice, ce = dice_ce_ref(torch.sigmoid(logits), target, False, True)
total.backward()
put("dice_ce_sigmoid_first", logits=logits, target=target, total=total, dice=dice, ce=ce, grad_logits=logits.grad)

os.makedirs(os.path.dirname(OUT), exist_ok=True)
torch.save(golden, OUT)
print(f"wrote {len(golden)} tensors to {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT)} bytes)")
