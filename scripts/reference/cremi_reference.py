#!/usr/bin/env python3
"""Writes tests/data/io/cremi_h5py.hdf: a tiny CREMI-layout file made by h5py (the library the
CREMI tools use), so the C++ HDF5 reader is checked against files it did not write itself.

raw: uint8 [3, 4, 5] = (z*20 + y*5 + x) * 3 % 256, gzip, chunked, resolution [40., 4., 4.]
neuron_ids: uint64 [3, 4, 5] = 2**40 + (z * 7 + y * 3 + x) // 4, plus one voxel = 2**62,
            resolution [40., 4., 4.], offset [80., 8., 4.]
extra/float: float32 [2, 3] = [[0.5, -1.25, 3.0], [1e-3, 2.5e6, -0.0]]
extra/huge_ids: uint64 [2] = [1, 2**64 - 1] (not representable as int64: the reader must refuse it)
"""
import os

import h5py
import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "io", "cremi_h5py.hdf")
z, y, x = np.meshgrid(np.arange(3), np.arange(4), np.arange(5), indexing="ij")
raw = ((z * 20 + y * 5 + x) * 3 % 256).astype(np.uint8)
ids = (np.uint64(2**40) + ((z * 7 + y * 3 + x) // 4).astype(np.uint64)).astype(np.uint64)
ids[2, 3, 4] = np.uint64(2**62)
with h5py.File(out, "w") as f:
    d = f.create_dataset("volumes/raw", data=raw, compression="gzip", chunks=(1, 4, 5))
    d.attrs["resolution"] = np.array([40.0, 4.0, 4.0])
    l = f.create_dataset("volumes/labels/neuron_ids", data=ids)
    l.attrs["resolution"] = np.array([40.0, 4.0, 4.0])
    l.attrs["offset"] = np.array([80.0, 8.0, 4.0])
    f.create_dataset("extra/huge_ids", data=np.array([1, 2**64 - 1], dtype=np.uint64))
    f.create_dataset("extra/float", data=np.array([[0.5, -1.25, 3.0], [1e-3, 2.5e6, -0.0]], dtype=np.float32))
print("wrote", os.path.normpath(out), os.path.getsize(out), "bytes")
