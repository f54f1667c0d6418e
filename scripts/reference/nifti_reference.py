#!/usr/bin/env python3
"""Writes NIfTI goldens with nibabel (independent of gtgm) and the geometry ITK/gtgm must report.

nibabel affines are RAS; gtgm (like ITK) reports LPS: direction rows 0,1 and origin x,y negated.
Run: /usr/bin/python3 scripts/reference/nifti_reference.py  (writes tests/data/nifti/)
"""
import json, os
import numpy as np
import nibabel as nib

out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "nifti")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)

def rot(axis, deg):
    t = np.deg2rad(deg); c, s = np.cos(t), np.sin(t)
    m = np.eye(3)
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m

cases = {
    # name: (rotation RAS, spacing xyz, origin RAS, dtype, shape xyz[t])
    "oblique_int16": (rot(2, 30) @ rot(0, 10), [0.8, 0.9, 2.5], [-10.5, 20.25, 33.0], np.int16, (7, 6, 5)),
    "flipped_float32": (np.diag([1.0, -1.0, 1.0]) @ rot(1, 20), [1.5, 1.5, 4.0], [1.0, -2.0, 3.0], np.float32, (5, 4, 3)),
    "fourd_uint8": (np.eye(3), [2.0, 2.0, 3.0], [0.0, 0.0, 0.0], np.uint8, (4, 3, 2, 2)),
    "uint16_labels": (np.diag([-1.0, -1.0, 1.0]), [1.0, 1.0, 1.0], [5.0, 6.0, 7.0], np.uint16, (3, 3, 3)),
}
expected = {}
for name, (R, sp, org, dt, shape) in cases.items():
    aff = np.eye(4)
    aff[:3, :3] = R @ np.diag(sp)
    aff[:3, 3] = org
    if np.issubdtype(dt, np.floating):
        data = rng.standard_normal(shape).astype(dt)
    else:
        hi = 60000 if dt == np.uint16 else (200 if dt == np.uint8 else 3000)
        data = rng.integers(0, hi, size=shape).astype(dt)
    img = nib.Nifti1Image(data, aff)
    img.set_qform(aff, code=1)
    img.set_sform(aff, code=1)
    img.header.set_data_dtype(dt)
    nib.save(img, os.path.join(out, name + ".nii.gz"))
    lps = np.diag([-1.0, -1.0, 1.0])
    direction = (lps @ R)
    org_lps = lps @ np.array(org)
    # tensor order [C, D, H, W] = [t, z, y, x]
    arr = data if data.ndim == 4 else data[..., None]
    tensor = np.transpose(arr, (3, 2, 1, 0))
    expected[name] = {
        "shape": list(tensor.shape),
        "spacing": sp, "origin": org_lps.tolist(), "direction": direction.reshape(-1).tolist(),
        "sum": float(tensor.astype(np.float64).sum()),
        "first": float(tensor.reshape(-1)[0]), "last": float(tensor.reshape(-1)[-1]),
        "at_0_1_2_3": float(tensor[0, min(1, tensor.shape[1]-1), min(2, tensor.shape[2]-1), min(3, tensor.shape[3]-1)]),
    }
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print("wrote", out)
