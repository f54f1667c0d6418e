#!/usr/bin/env python3
"""Checks a `gtgm export` folder from Python: encoder.pt loads with torch.load, encoder.safetensors
(parsed here without the safetensors package) holds the same tensors, and architecture.json lists
exactly those tensors with their shapes. Prints a summary; exits 1 on any mismatch.

Usage: python3 scripts/check_export.py EXPORT_DIR
"""
import json
import os
import struct
import sys

import torch

DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=DTYPES[e["dtype"]]) if end > begin else \
            torch.empty(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    return out, meta


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    state = torch.load(os.path.join(d, "encoder.pt"))
    st, meta = read_safetensors(os.path.join(d, "encoder.safetensors"))
    arch = json.load(open(os.path.join(d, "architecture.json")))
    problems = []
    if set(state) != set(st):
        problems.append(f"key sets differ: only in .pt {sorted(set(state) - set(st))[:5]}, "
                        f"only in .safetensors {sorted(set(st) - set(state))[:5]}")
    for k in set(state) & set(st):
        if not torch.equal(state[k], st[k]):
            problems.append(f"tensor {k} differs")
        if list(state[k].shape) != arch["tensors"].get(k):
            problems.append(f"tensor {k}: shape {list(state[k].shape)} but architecture.json says {arch['tensors'].get(k)}")
    if set(arch["tensors"]) != set(state):
        problems.append("architecture.json lists other tensors than encoder.pt")
    n = sum(v.numel() for k, v in state.items() if v.is_floating_point())
    print(f"{arch['encoder']} encoder, embed_dim {arch['embed_dim']}, {len(state)} tensors, {n} values, "
          f"step {arch['step']}, format {meta.get('format')}")
    if problems:
        print("\n".join("MISMATCH: " + p for p in problems))
        sys.exit(1)
    print("OK: encoder.pt and encoder.safetensors agree with architecture.json")


if __name__ == "__main__":
    main()
