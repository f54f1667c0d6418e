#!/usr/bin/python3
"""Independent safetensors reference for gtgm's io/safetensors (no `safetensors` package needed).

Writes tests/data/safetensors/reference.safetensors by hand (numpy + struct + json, following the
format spec: u64 LE header length, JSON header padded with spaces to 8 bytes, raw LE data) and
reference_expected.json with each tensor's dtype, shape and exact values.

  python3 scripts/reference/safetensors_reference.py            # (re)write the golden files
  python3 scripts/reference/safetensors_reference.py --check F  # verify a file written by gtgm
                                                                 # holds the same tensors + metadata
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "..", "..", "tests", "data", "safetensors")
METADATA = {"format": "pt", "source": "safetensors_reference.py"}


def bf16_bits(values):
    """float32 -> bfloat16 bit patterns (values chosen to be exact in bf16, so truncation is exact)."""
    f = np.asarray(values, dtype=np.float32)
    bits = f.view(np.uint32)
    assert np.all((bits & 0xFFFF) == 0), "bf16 reference values must be exactly representable"
    return (bits >> 16).astype(np.uint16)


def reference_tensors():
    """name -> (dtype name, numpy array of the stored bytes' type, values as python list for JSON)."""
    t = []
    f32 = np.array([[1.5, -2.25, 3.0], [0.1, 1e-8, -7.0]], dtype=np.float32)
    t.append(("encoder.layer.0.weight", "F32", f32))
    t.append(("f64", "F64", np.array([np.pi, -np.e], dtype=np.float64)))
    t.append(("f16", "F16", np.array([0.5, -1.0, 65504.0, 0.0999755859375], dtype=np.float16)))
    t.append(("bf16", "BF16", bf16_bits([1.0, -2.5, 3.140625, 256.0]).reshape(2, 2)))
    t.append(("i64", "I64", np.array([-(2 ** 40), 0, 7], dtype=np.int64)))
    t.append(("i32", "I32", np.array([[-2147483648, 2147483647]], dtype=np.int32)))
    t.append(("i16", "I16", np.array([-300, 300], dtype=np.int16)))
    t.append(("i8", "I8", np.array([-128, 127, 5], dtype=np.int8)))
    t.append(("u8", "U8", np.array([0, 255, 17], dtype=np.uint8)))
    t.append(("bool", "BOOL", np.array([True, False, True], dtype=np.bool_)))
    t.append(("scalar", "F32", np.array(42.0, dtype=np.float32)))
    t.append(("empty", "F32", np.zeros((0, 3), dtype=np.float32)))
    return t


def values_of(dtype, arr):
    if dtype == "BF16":
        return (arr.astype(np.uint32) << 16).view(np.float32).astype(np.float64).ravel().tolist()
    if dtype == "BOOL":
        return [bool(x) for x in arr.ravel()]
    if dtype.startswith("F"):
        return arr.astype(np.float64).ravel().tolist()
    return [int(x) for x in arr.ravel()]


def write_file(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, dtype, arr in tensors:
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_file(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    return n, header, body


def check(path):
    np_types = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
                "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
    n, header, body = read_file(path)
    errors = []
    if n % 8 != 0:
        errors.append(f"header length {n} is not a multiple of 8")
    if header.get("__metadata__") != METADATA:
        errors.append(f"metadata {header.get('__metadata__')} != {METADATA}")
    expected = reference_tensors()
    names = [k for k in header if k != "__metadata__"]
    if sorted(names) != sorted(t[0] for t in expected):
        errors.append(f"tensor names {sorted(names)} differ")
    covered = 0
    for name, dtype, arr in expected:
        e = header.get(name)
        if e is None:
            continue
        b, end = e["data_offsets"]
        covered += end - b
        got = np.frombuffer(body[b:end], dtype=np_types[e["dtype"]]).reshape(e["shape"])
        if e["dtype"] != dtype or list(e["shape"]) != list(arr.shape):
            errors.append(f"{name}: {e['dtype']} {e['shape']} != {dtype} {list(arr.shape)}")
        elif got.tobytes() != np.ascontiguousarray(arr).tobytes():
            errors.append(f"{name}: values differ: {got.ravel().tolist()} vs {arr.ravel().tolist()}")
    if covered != len(body):
        errors.append(f"tensors cover {covered} bytes of a {len(body)}-byte data block")
    if errors:
        print("MISMATCH\n" + "\n".join(errors))
        return 1
    print(f"OK {len(names)} tensors")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", help="verify a safetensors file written by gtgm")
    args = ap.parse_args()
    if args.check:
        sys.exit(check(args.check))
    os.makedirs(OUT_DIR, exist_ok=True)
    tensors = reference_tensors()
    write_file(os.path.join(OUT_DIR, "reference.safetensors"), tensors, METADATA)
    expected = {"metadata": METADATA,
                "tensors": [{"name": n, "dtype": d, "shape": list(a.shape), "values": values_of(d, a)}
                            for n, d, a in tensors]}
    with open(os.path.join(OUT_DIR, "reference_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    # Self-check: what we wrote reads back through the independent reader.
    assert check(os.path.join(OUT_DIR, "reference.safetensors")) == 0


if __name__ == "__main__":
    main()
