#!/usr/bin/env python3
"""Golden splits for tests/data/test_split.cpp and tests/data/test_py_random.cpp
(written to tests/data/split/splits.json and tests/data/split/msd_unsorted/dataset.json).

The reference's split, ported as it is from ydchen0806/GTGM finetune/task1.py:179-185 (the script
every finetune/run/run_task*.sh runs; task2_test.py .. task10.py are older copies without the
shuffle that no run script calls):

    datalist = load_decathlon_datalist(datasets, True, "training")
    total_len = len(datalist)
    random.seed(42)
    random.shuffle(datalist)
    trainlist = datalist[: int(total_len * args.train_rate)]
    val_files = datalist[int(total_len * 0.8) :]

load_decathlon_datalist (MONAI) returns dataset.json's "training" entries in file order. The
reference ran CPython 3.7 (its __pycache__ files are cpython-37); random.seed(int), getrandbits,
_randbelow and shuffle are the same algorithm through 3.11, which prints these values.

gtgm's other choices (data.split_order: sorted, data.split_sizes: rounded, k-fold) are written
out below in plain Python as well (`gtgm_split`, `gtgm_kfold`, `gtgm_label_subset`).
"""
import json
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "split")


def reference_split(datalist, train_rate, seed=42):
    """finetune/task1.py:181-185 as it is (the seed, 42 there, is a parameter here)."""
    total_len = len(datalist)
    random.seed(seed)
    random.shuffle(datalist)
    trainlist = datalist[: int(total_len * train_rate)]
    val_files = datalist[int(total_len * 0.8):]
    return trainlist, val_files


def case_id(entry):
    name = os.path.basename(entry["image"])
    return name[: -len(".nii.gz")] if name.endswith(".nii.gz") else name


# gtgm's options other than the reference default (include/gtgm/data/split.h).
def gtgm_split(ids, f, seed, order, sizes):
    ids = sorted(ids) if order == "sorted" else list(ids)
    random.Random(seed).shuffle(ids)
    n = len(ids)
    if f >= 1:
        n_train = n
    elif sizes == "reference":
        n_train = min(max(int(n * f), 1), n - 1)
    else:
        n_train = n - min(max(math.ceil(n * (1 - f) - 1e-9), 1), n - 1)
    return ids[:n_train], ids[n_train:]


def gtgm_label_subset(train, test, f, train_fraction, sizes, of):
    n_all = len(train) + len(test)
    if sizes == "reference":
        k = int(n_all * (f if of == "all" else train_fraction * f))
    else:
        k = math.floor(f * (n_all if of == "all" else len(train)) + 0.5)
    return train[: min(max(1, k), len(train))]


def gtgm_kfold(ids, k, fold, seed):
    ids = sorted(ids)
    random.Random(seed).shuffle(ids)
    n = len(ids)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    begin = sum(sizes[:fold])
    return ids[:begin] + ids[begin + sizes[fold]:], ids[begin: begin + sizes[fold]]


out = {}
# --- CPython's random, raw: test_py_random.cpp
seeds = [0, 1, 42, 12345, 2**32 + 7, 2**40 + 12345]
out["raw_u32"] = {}
for s in seeds:
    r = random.Random(s)
    out["raw_u32"][str(s)] = [r.getrandbits(32) for _ in range(6)]
out["getrandbits_seed42"] = {}
for k in [1, 5, 17, 31, 32]:
    r = random.Random(42)
    out["getrandbits_seed42"][str(k)] = [r.getrandbits(k) for _ in range(4)]
out["randbelow_seed7"] = {}
for n in [1, 2, 3, 10, 1000, 2**31 + 1, 2**32 - 1]:
    r = random.Random(7)
    out["randbelow_seed7"][str(n)] = [r._randbelow(n) for _ in range(4)]
out["shuffle"] = []
for s in seeds:
    for n in [1, 2, 7, 100]:
        x = list(range(n))
        random.seed(s)  # the module-level generator, as the reference calls it
        random.shuffle(x)
        out["shuffle"].append({"seed": s, "n": n, "result": x})

# --- the reference split on a dataset.json listing its cases out of sorted order
msd = os.path.join(OUT, "msd_unsorted")
os.makedirs(msd, exist_ok=True)
order = random.Random(2023).sample(range(131), 131)  # a scrambled listing order of liver_0 .. liver_130
training = [{"image": f"./imagesTr/liver_{i}.nii.gz", "label": f"./labelsTr/liver_{i}.nii.gz"} for i in order]
with open(os.path.join(msd, "dataset.json"), "w") as fh:
    json.dump({"name": "LiverUnsorted", "modality": {"0": "CT"},
               "labels": {"0": "background", "1": "liver", "2": "cancer"},
               "numTraining": len(training), "training": training, "test": []}, fh, indent=1)
with open(os.path.join(msd, "dataset.json")) as fh:
    listed = json.load(fh)["training"]
ref = {}
for key, rate in [("train_rate_0.8", 0.8), ("train_rate_0.08", 0.8 * 0.1), ("train_rate_0.008", 0.8 * 0.01),
                  ("train_rate_0.1", 0.1), ("train_rate_0.01", 0.01)]:
    trainlist, val_files = reference_split([dict(e) for e in listed], rate)
    ref[key] = {"train": [case_id(e) for e in trainlist], "test": [case_id(e) for e in val_files]}
# A small task (Spleen has 41 cases): int(41 * 0.008) = 0 labelled cases in the reference.
small = [{"image": f"./imagesTr/spleen_{i}.nii.gz"} for i in random.Random(5).sample(range(41), 41)]
tr, te = reference_split([dict(e) for e in small], 0.8 * 0.01)
ref["spleen41_listed"] = [case_id(e) for e in small]
ref["spleen41_train_rate_0.008"] = {"train": [case_id(e) for e in tr], "test": [case_id(e) for e in te]}
tr, te = reference_split([dict(e) for e in small], 0.8)
ref["spleen41_train_rate_0.8"] = {"train": [case_id(e) for e in tr], "test": [case_id(e) for e in te]}
out["reference_msd_unsorted"] = ref

# --- gtgm's options: sorted order, rounded sizes, k-fold
out["gtgm_cases"] = []
for n, seed in [(10, 42), (41, 42), (131, 42), (7, 0), (23, 2**33 + 5)]:
    ids = [f"case_{i:03d}" for i in range(n)]
    tr, te = gtgm_split(ids, 0.8, seed, "sorted", "rounded")
    case = {"n": n, "seed": seed, "sorted_rounded": {"train": tr, "test": te},
            "frac_0.01": gtgm_label_subset(tr, te, 0.01, 0.8, "rounded", "train"),
            "frac_0.1": gtgm_label_subset(tr, te, 0.1, 0.8, "rounded", "train"),
            "frac_0.1_all": gtgm_label_subset(tr, te, 0.1, 0.8, "rounded", "all")}
    tr2, te2 = gtgm_split(ids, 0.8, seed, "sorted", "reference")
    case["sorted_reference"] = {"train": tr2, "test": te2}
    if n >= 5:
        case["kfold5_fold2_train"], case["kfold5_fold2_test"] = gtgm_kfold(ids, 5, 2, seed)
    out["gtgm_cases"].append(case)

path = os.path.join(OUT, "splits.json")
with open(path, "w") as fh:
    json.dump(out, fh, indent=1)
print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes")
print("reference, 131 listed cases, train_rate 0.8: first train ids", ref["train_rate_0.8"]["train"][:5],
      "test", len(ref["train_rate_0.8"]["test"]))
print("labelled counts: 0.08 ->", len(ref["train_rate_0.08"]["train"]), "0.008 ->", len(ref["train_rate_0.008"]["train"]),
      "0.1 ->", len(ref["train_rate_0.1"]["train"]), "spleen 0.008 ->", len(ref["spleen41_train_rate_0.008"]["train"]))
