#!/usr/bin/env python3
"""Goldens for gtgm's evaluation metrics (tests/infer/test_metrics.cpp).

Independent reference implementations:
  - Euclidean distance transform: scipy.ndimage.distance_transform_edt(..., sampling=spacing).
  - Surface voxels: mask & ~binary_erosion(mask, 6-connectivity, border_value=0) (MONAI get_mask_edges).
  - HD95: max of the two directed 95th percentiles (numpy.percentile, linear), MONAI's definition.
  - NSD: surface voxels within tolerance over all surface voxels (MONAI compute_surface_dice).
  - VOI: skimage.metrics.variation_of_information (log2, reference labels ignored), cross-checked
    against a direct numpy transcription of CREMI's voi.py.
  - Adapted Rand: numpy transcription of CREMI's rand.py (skimage's adapted_rand_error counts pairs
    and treats prediction label 0 as a segment, so it differs from CREMI by design).

Writes tests/data/metrics_golden.json. Usage: /usr/bin/python3 scripts/reference/metrics_reference.py
"""
import json
import math
import os

import numpy as np
from scipy import ndimage
from skimage.metrics import variation_of_information

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "metrics_golden.json")


def surface(mask):
    st = ndimage.generate_binary_structure(3, 1)
    return mask & ~ndimage.binary_erosion(mask, structure=st, border_value=0)


def directed(src, dst, spacing):
    """Distances from each surface voxel of src to the surface of dst (C order)."""
    s_src, s_dst = surface(src), surface(dst)
    if not s_dst.any():
        return np.full(int(s_src.sum()), np.inf)
    dt = ndimage.distance_transform_edt(~s_dst, sampling=spacing)
    return dt[s_src]


def diagonal(shape, spacing):
    return math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing)))


def seg_scores(pred, ref, label, spacing, tol):
    p, r = pred == label, ref == label
    np_, nr = int(p.sum()), int(r.sum())
    if np_ + nr == 0:
        return {"dice": None, "hd95": None, "nsd": None}
    dice = 2.0 * int((p & r).sum()) / (np_ + nr)
    if np_ == 0 or nr == 0:
        return {"dice": dice, "hd95": diagonal(pred.shape, spacing), "nsd": 0.0}
    d_pr, d_rp = directed(p, r, spacing), directed(r, p, spacing)
    hd95 = max(np.percentile(d_pr, 95), np.percentile(d_rp, 95))
    nsd = (np.sum(d_pr <= tol) + np.sum(d_rp <= tol)) / (d_pr.size + d_rp.size)
    return {"dice": dice, "hd95": float(hd95), "nsd": float(nsd)}


def voi_numpy(pred, ref, ignore=(0,)):
    keep = ~np.isin(ref, ignore)
    x, y = pred[keep].ravel(), ref[keep].ravel()
    pairs, counts = np.unique(np.stack([x, y]), axis=1, return_counts=True)
    pxy = counts / counts.sum()
    _, xi = np.unique(pairs[0], return_inverse=True)
    _, yi = np.unique(pairs[1], return_inverse=True)
    px = np.bincount(xi, weights=pxy)[xi]
    py = np.bincount(yi, weights=pxy)[yi]
    split = -np.sum(pxy * np.log2(pxy / py))
    merge = -np.sum(pxy * np.log2(pxy / px))
    return float(split), float(merge)


def arand_cremi(pred, ref):
    """CREMI's adapted_rand_error (reference label 0 ignored), transcribed to dense numpy."""
    seg_a, seg_b = ref.ravel(), pred.ravel()
    n = seg_a.size
    p_ij = np.zeros((seg_a.max() + 1, seg_b.max() + 1))
    np.add.at(p_ij, (seg_a, seg_b), 1.0)
    a = p_ij[1:, :]
    b = p_ij[1:, 1:]
    c = p_ij[1:, 0]
    a_i, b_i = a.sum(1), b.sum(0)
    sum_a = np.sum(a_i * a_i)
    sum_b = np.sum(b_i * b_i) + np.sum(c) / n
    sum_ab = np.sum(b * b) + np.sum(c) / n
    precision, recall = sum_ab / sum_b, sum_ab / sum_a
    return float(1.0 - 2.0 * precision * recall / (precision + recall)), float(precision), float(recall)


def blob_labels(rng, shape, n_labels, n_blobs):
    lab = np.zeros(shape, np.int64)
    zz, yy, xx = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    for i in range(n_blobs):
        c = [rng.uniform(0, s) for s in shape]
        rad = [rng.uniform(1.5, s / 2.5) for s in shape]
        inside = ((zz - c[0]) / rad[0]) ** 2 + ((yy - c[1]) / rad[1]) ** 2 + ((xx - c[2]) / rad[2]) ** 2 <= 1
        lab[inside] = i % n_labels + 1
    return lab


def perturb(rng, lab, n_labels):
    out = lab.copy()
    for l in range(1, n_labels + 1):
        m = lab == l
        if rng.random() < 0.5:
            m = ndimage.binary_dilation(m)
        else:
            m = ndimage.binary_erosion(m)
        m = np.roll(m, rng.integers(-1, 2), axis=int(rng.integers(0, 3)))
        out[(out == l) & ~m] = 0
        out[m] = l
    flip = rng.random(lab.shape) < 0.005
    out[flip] = rng.integers(0, n_labels + 1, size=int(flip.sum()))
    return out


def main():
    rng = np.random.default_rng(20240607)
    golden = {"edt": [], "segmentation": [], "instance": []}

    for shape, spacing in [((7, 9, 11), (1.0, 1.0, 1.0)), ((6, 10, 8), (2.5, 0.8, 1.1)), ((1, 5, 13), (3.0, 0.5, 0.7))]:
        feat = rng.random(shape) < 0.06
        golden["edt"].append({
            "shape": list(shape), "spacing": list(spacing),
            "features": feat.astype(np.uint8).ravel().tolist(),
            "distance": ndimage.distance_transform_edt(~feat, sampling=spacing).ravel().tolist(),
        })

    tol = 1.5
    for shape, spacing in [((10, 12, 14), (1.0, 1.0, 1.0)), ((8, 14, 12), (2.5, 0.8, 1.1)), ((12, 9, 10), (0.7, 1.3, 0.9))]:
        ref = blob_labels(rng, shape, 3, 4)
        pred = perturb(rng, ref, 3)
        pred[pred == 2] = 0  # label 2 only in the reference: one-empty rule
        labels = [1, 2, 3, 4]  # label 4 in neither: both-empty rule
        golden["segmentation"].append({
            "shape": list(shape), "spacing": list(spacing), "nsd_tolerance": tol, "labels": labels,
            "pred": pred.ravel().tolist(), "ref": ref.ravel().tolist(),
            "scores": {str(l): seg_scores(pred, ref, l, spacing, tol) for l in labels},
        })

    for shape in [(6, 10, 10), (4, 16, 12)]:
        ref = blob_labels(rng, shape, 6, 10)  # label 0 = ignored background
        pred = perturb(rng, ref, 6)
        pred[(pred == 3)] = 9  # relabelling does not matter for VOI/ARAND
        pred[rng.random(shape) < 0.05] = 0  # unassigned prediction voxels inside the reference
        # skimage returns [H(image1 | image0), H(image0 | image1)] = [H(pred | ref), H(ref | pred)]
        sk_split, sk_merge = variation_of_information(ref, pred, ignore_labels=[0])
        split, merge = voi_numpy(pred, ref)
        assert abs(sk_split - split) < 1e-12 and abs(sk_merge - merge) < 1e-12, (sk_split, split, sk_merge, merge)
        are, prec, rec = arand_cremi(pred, ref)
        golden["instance"].append({
            "shape": list(shape), "pred": pred.ravel().tolist(), "ref": ref.ravel().tolist(),
            "voi_split": float(sk_split), "voi_merge": float(sk_merge),
            "arand": are, "arand_precision": prec, "arand_recall": rec,
        })

    with open(OUT, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
