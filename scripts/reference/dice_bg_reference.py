#!/usr/bin/env python3
"""Golden values for tests/infer/test_metrics_dice_bg.cpp: Dice with background as the reference
reports it, computed independently with numpy.

The reference (ydchen0806/GTGM finetune/task1.py:316-318, 233-248) scores held-out cases with
    post_label = AsDiscrete(to_onehot=len(labels))
    post_pred = AsDiscrete(argmax=True, to_onehot=len(labels))
    dice_metric = DiceMetric(include_background=True, reduction="mean", get_not_nans=False)
    ... dice_metric(y_pred=val_output_convert, y=val_labels_convert); dice_metric.aggregate().item()
MONAI is not installed here; its definition, written out below:
  - compute_dice (monai/metrics/meandice.py): per case b and one-hot channel c,
    I = sum(y_pred * y), y_o = sum(y), p_o = sum(y_pred); dice = 2 I / (y_o + p_o) where y_o > 0,
    else NaN (ignore_empty=True, MONAI >= 1.0; MONAI 0.x's compute_meandice had the same
    torch.where(y_o > 0, ..., nan)): a class absent from the reference is not scored, even when
    the prediction has it.
  - do_metric_reduction(f, MetricReduction.MEAN) (monai/metrics/utils.py): NaNs set to 0 and
    counted out; first the mean over channels of each case (cases with no valid channel -> 0 and
    not counted), then the mean over the counted cases.
The nnU-Net-style foreground mean (per class: mean over cases, a class empty in both prediction
and reference left out; then mean over classes 1..K-1) is printed beside it for contrast.
"""
import numpy as np

NUM_CLASSES = 3
# [D=2, H=3, W=4] label volumes, row-major; the C++ test spells the same lists.
CASES = {
    "case_a": (  # all classes in the reference, some errors
        [0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 2, 2,
         0, 0, 1, 1, 0, 1, 2, 2, 0, 0, 2, 2],
        [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 2, 2,
         0, 1, 1, 1, 0, 1, 2, 2, 0, 2, 2, 0]),
    "case_b": (  # class 2 absent from the reference but predicted: MONAI ignores it, nnU-Net scores 0
        [0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0,
         0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 2, 0,
         0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0]),
    "case_c": (  # class 1 absent from both
        [2, 2, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0,
         2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [2, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
         2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
}


def one_hot(labels):
    lab = np.asarray(labels).reshape(2, 3, 4)
    # MONAI holds the one-hot tensors in float32; float64 here gives the exact ratios (they differ < 1e-7).
    return np.stack([(lab == c).astype(np.float64) for c in range(NUM_CLASSES)])  # [C, D, H, W]


def compute_dice(y_pred, y):  # [B, C, ...] one-hot
    axes = tuple(range(2, y.ndim))
    inter = (y_pred * y).sum(axis=axes)
    y_o = y.sum(axis=axes)
    p_o = y_pred.sum(axis=axes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(y_o > 0, 2.0 * inter / (y_o + p_o), np.nan)  # [B, C]


def reduce_mean(f):  # do_metric_reduction MEAN
    f = f.copy()
    nans = np.isnan(f)
    not_nans = (~nans).astype(np.float64)
    f[nans] = 0
    nn = not_nans.sum(axis=1)
    f = np.where(nn > 0, f.sum(axis=1) / np.maximum(nn, 1), 0.0)
    nn = (nn > 0).astype(np.float64).sum(axis=0)
    return f.sum(axis=0) / nn if nn > 0 else 0.0


ys, ps = [], []
for name, (ref, pred) in CASES.items():
    ys.append(one_hot(ref))
    ps.append(one_hot(pred))
f = compute_dice(np.stack(ps), np.stack(ys))
for (name, _), row in zip(CASES.items(), f):
    valid = row[~np.isnan(row)]
    print(f"{name}: per class {[None if np.isnan(v) else round(float(v), 12) for v in row]} "
          f"case mean {float(valid.mean()) if valid.size else float('nan'):.12f}")
print(f"dice_with_bg (MONAI DiceMetric(include_background=True) aggregate): {reduce_mean(f):.12f}")

# nnU-Net-style foreground mean for contrast.
fg = []
for c in range(1, NUM_CLASSES):
    vals = []
    for name, (ref, pred) in CASES.items():
        r = np.asarray(ref) == c
        p = np.asarray(pred) == c
        if r.sum() + p.sum() == 0:
            continue
        vals.append(2.0 * (r & p).sum() / (r.sum() + p.sum()))
    fg.append(np.mean(vals))
print(f"dice (foreground classes 1..{NUM_CLASSES - 1}, nnU-Net style): {np.mean(fg):.12f}")
