#!/usr/bin/env python3
"""Golden values for tests/data/test_cache_spatial.cpp (Plan.RangeNormalizationIsScaleIntensityRanged).

The reference code normalises every MSD task (CT and MRI alike) with
    ScaleIntensityRanged(keys=["image"], a_min=-175, a_max=250, b_min=0.0, b_max=1.0, clip=True)
(ydchen0806/GTGM finetune/task1.py:99-106 for training, :162 for validation). The body of MONAI's
ScaleIntensityRange.__call__ (monai/transforms/intensity/array.py; MONAI is not installed here),
ported as it is, on float32 numpy arrays (its default dtype):

    img = (img - self.a_min) / (self.a_max - self.a_min)
    if (self.b_min is not None) and (self.b_max is not None):
        img = img * (self.b_max - self.b_min) + self.b_min
    if self.clip:
        img = clip(img, self.b_min, self.b_max)
"""
import numpy as np


def scale_intensity_range(img, a_min=-175.0, a_max=250.0, b_min=0.0, b_max=1.0, clip=True):
    img = np.asarray(img, dtype=np.float32)
    img = (img - a_min) / (a_max - a_min)
    if (b_min is not None) and (b_max is not None):
        img = img * (b_max - b_min) + b_min
    if clip:
        img = np.clip(img, b_min, b_max)
    return img.astype(np.float32)


x = np.array([-1024.0, -175.0, -100.0, 0.0, 37.5, 40.0, 100.0, 249.0, 250.0, 3071.0], dtype=np.float32)
y = scale_intensity_range(x)
assert y.dtype == np.float32
print("input:", ", ".join(f"{v:.1f}f" for v in x))
print("expected (float32, %.9g):", ", ".join(f"{v:.9g}f" for v in y))
# An MRI channel (the reference applies the same window to MRI tasks too).
m = np.array([0.0, 50.0, 125.0, 400.0, 1800.0], dtype=np.float32)
print("mri input:", ", ".join(f"{v:.1f}f" for v in m))
print("mri expected:", ", ".join(f"{v:.9g}f" for v in scale_intensity_range(m)))
