#!/usr/bin/env python3
"""Golden splits for tests/data/test_split.cpp (written to tests/data/split/splits.json).

The definition gtgm implements (include/gtgm/data/split.h), in plain Python:
  ids = sorted(ids); random.Random(seed).shuffle(ids)
  n_test = ceil(n * (1 - f) - 1e-9) clamped to [1, n - 1]; train, test = ids[:n - n_test], ids[n - n_test:]
  k-fold: contiguous folds of the shuffled ids (the first n % k one longer)
  label fraction: train[:max(1, floor(f * len(train) + 0.5))]
"""
import json
import math
import os
import random


def train_test(ids, f, seed):
    ids = sorted(ids)
    random.Random(seed).shuffle(ids)
    n = len(ids)
    n_test = min(max(math.ceil(n * (1 - f) - 1e-9), 1), n - 1) if f < 1 else 0
    return ids[: n - n_test], ids[n - n_test:]


def kfold(ids, k, fold, seed):
    ids = sorted(ids)
    random.Random(seed).shuffle(ids)
    n = len(ids)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    begin = sum(sizes[:fold])
    test = ids[begin: begin + sizes[fold]]
    train = ids[:begin] + ids[begin + sizes[fold]:]
    return train, test


def fraction(train, f):
    return train[: min(max(1, math.floor(f * len(train) + 0.5)), len(train))]


out = {"raw_u32_seed42": [], "raw_u32_seed_big": [], "cases": []}
r = random.Random(42)
out["raw_u32_seed42"] = [r.getrandbits(32) for _ in range(5)]
r = random.Random(2**40 + 12345)
out["raw_u32_seed_big"] = [r.getrandbits(32) for _ in range(5)]
for n, seed in [(10, 42), (41, 42), (131, 42), (7, 0), (23, 2**33 + 5)]:
    ids = [f"case_{i:03d}" for i in range(n)]
    tr, te = train_test(ids, 0.8, seed)
    case = {"n": n, "seed": seed, "train": tr, "test": te,
            "frac_0.01": fraction(tr, 0.01), "frac_0.1": fraction(tr, 0.1)}
    if n >= 5:
        case["kfold5_fold2_train"], case["kfold5_fold2_test"] = kfold(ids, 5, 2, seed)
    out["cases"].append(case)
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "split", "splits.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as fh:
    json.dump(out, fh, indent=1)
print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes")
