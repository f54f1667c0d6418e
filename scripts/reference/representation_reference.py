#!/usr/bin/python3
"""Golden values for tests/infer/test_representation.cpp (gtgm probe's diagnostics).

Not a port of the GTGM reference code (it has no probe): numpy / scipy computations of the
quantities defined in include/gtgm/infer/representation.h.
Run: /usr/bin/python3 scripts/reference/representation_reference.py
"""
import numpy as np
from scipy.special import comb


def effective_rank(x):
    s = np.linalg.svd(np.asarray(x, dtype=np.float64), compute_uv=False)
    if s.sum() <= 0:
        return 0.0
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def main():
    x = [[1, 2, 3], [4, 5, 6], [7, 8, 10], [0, 1, 0]]
    print("effective_rank(x) = %.17g" % effective_rank(x))
    print("effective_rank(eye(5)) = %.17g" % effective_rank(np.eye(5)))
    print("effective_rank(outer([1,2,3],[4,5])) = %.17g" % effective_rank(np.outer([1, 2, 3], [4, 5])))
    print("effective_rank(diag([3,1])) = %.17g" % effective_rank(np.diag([3.0, 1.0])))
    sd = np.std(np.asarray(x, dtype=np.float64), axis=0, ddof=1)
    print("column sd of x:", ", ".join("%.17g" % v for v in sd), "median %.17g mean %.17g" % (np.median(sd), sd.mean()))
    # text->image chance: 6 images, captions held by 3, 2 and 1 images.
    n, ms = 6, [3, 2, 1]
    for k in (1, 5):
        print("t2i chance k=%d: %.17g" % (k, np.mean([1 - comb(n - m, k) / comb(n, k) for m in ms])))


if __name__ == "__main__":
    main()
