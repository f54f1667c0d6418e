#!/usr/bin/python3
"""Golden values for tests/infer/test_stats.cpp.

Not a port of the GTGM reference code (it has no statistics): mean and sd come from numpy, and the
bootstrap is an independent Python port of the algorithm documented in include/gtgm/infer/stats.h
(splitmix64 stream from the seed, indices = value % n, resample means, numpy.percentile 'linear'),
so that the C++ interval can be compared exactly. scipy.stats.bootstrap (percentile, same B) is
printed beside it for reference; its generator differs, so its bounds agree only approximately.

Run: /usr/bin/python3 scripts/reference/bootstrap_ci_reference.py
"""
import numpy as np

MASK = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def bootstrap_mean_ci(x, level=0.95, resamples=10000, seed=20240917):
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    state = seed
    means = np.empty(resamples)
    for b in range(resamples):
        s = 0.0
        for _ in range(n):
            state, v = splitmix64(state)
            s += x[v % n]
        means[b] = s / n
    return (np.percentile(means, 100 * (1 - level) / 2), np.percentile(means, 100 * (1 + level) / 2))


def main():
    state = 0
    first = []
    for _ in range(3):
        state, v = splitmix64(state)
        first.append(v)
    print("splitmix64 from seed 0:", ", ".join(f"0x{v:016X}ULL" for v in first))

    a = [0.71, 0.64, 0.80, 0.58, 0.69]
    b = [0.66, 0.65, 0.70, 0.52, 0.61]
    d = np.subtract(a, b)
    print("a mean %.17g sd %.17g" % (np.mean(a), np.std(a, ddof=1)))
    print("d =", ", ".join("%.17g" % v for v in d))
    print("d mean %.17g sd %.17g" % (np.mean(d), np.std(d, ddof=1)))
    for x, r, s in [(d, 10000, 20240917), ([100.0, 0.0, 100.0], 10000, 20240917), ([1.0, 2.0, 3.0, 4.0], 1000, 7), ([-3.0, 1.0, 2.5], 10000, 20240917)]:
        lo, hi = bootstrap_mean_ci(x, 0.95, r, s)
        print("bootstrap x=%s B=%d seed=%d: lo %.17g hi %.17g" % (list(np.round(x, 12)), r, s, lo, hi))
    print("percentile linear of [4, 1, 3, 2] at 0.025: %.17g, 0.975: %.17g" %
          (np.percentile([4, 1, 3, 2], 2.5), np.percentile([4, 1, 3, 2], 97.5)))
    try:
        from scipy import stats
        res = stats.bootstrap((d,), np.mean, n_resamples=10000, method='percentile', confidence_level=0.95,
                              random_state=np.random.default_rng(20240917))
        print("scipy.stats.bootstrap (percentile, B=10000; other RNG):", res.confidence_interval)
    except ImportError:
        print("scipy not available")


if __name__ == "__main__":
    main()
