#!/usr/bin/env python3
# Copyright gtgm authors. Licensed under the Apache License, Version 2.0.
"""gtgm's segmentation networks in plain PyTorch, rebuilt from a `gtgm export` folder.

`gtgm export RUN_DIR --out OUT` on a fine-tuning run writes OUT/model.safetensors, OUT/model.pt and
OUT/architecture.json. This module needs only torch (no gtgm, no safetensors package):

    import torch, gtgm_models
    net = gtgm_models.load_exported("OUT")          # nn.Module in eval mode, weights loaded strictly
    logits = net(image)                             # image [B, C, D, H, W] -> logits [B, K, D, H, W]

The network is the one `models::build_segmentation_model` builds in gtgm: encoder resnet3d,
resunet, unet or vit3d; decoder unet (transposed or interpolate upsampling), unetr or resunet (the GTGM
reference's ResUNet decoder); norm batch,
instance or group; activation relu, leaky_relu or gelu; 2D or 3D; a segmentation or affinity head
with optional deep supervision (`net.forward_deep`). Inputs of any size work: like gtgm, the
network zero-pads each axis up to a multiple of `net.size_divisor` and crops the logits back.
Inputs are expected preprocessed as gtgm does (architecture.json's `plan` and `data_config`).

Command line (used by gtgm's tests):
    python3 gtgm_models.py OUT [--input IN.safetensors --output LOGITS.safetensors]
loads OUT, prints a summary and, with --input, runs the tensor "input" of IN and writes "logits"
(and "deep.<i>" for deep supervision) to LOGITS.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["load_exported", "build_network", "read_safetensors", "write_safetensors", "SegmentationNetwork"]

FORMAT = "gtgm-segmentation"

_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
           "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
           "BOOL": torch.bool}
_NAMES = {v: k for k, v in _DTYPES.items()}


# ---- safetensors --------------------------------------------------------------------------------
def read_safetensors(path):
    """Reads a .safetensors file: 8-byte little-endian header length N, N bytes of JSON header,
    raw little-endian data. Returns ({name: tensor}, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        if e["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {e['dtype']}")
        begin, end = e["data_offsets"]
        dtype = _DTYPES[e["dtype"]]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(e["shape"])
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} as .safetensors (CPU, contiguous, little-endian)."""
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


# ---- layers -------------------------------------------------------------------------------------
def _conv(dims, cin, cout, kernel, stride=1, padding=None, bias=False, transposed=False):
    kernel = _axes(kernel, dims)
    stride = _axes(stride, dims)
    if padding is None:
        padding = [0] * dims if transposed else [k // 2 for k in kernel]
    if transposed:
        cls = nn.ConvTranspose3d if dims == 3 else nn.ConvTranspose2d
    else:
        cls = nn.Conv3d if dims == 3 else nn.Conv2d
    return cls(cin, cout, kernel, stride=stride, padding=padding, bias=bias)


def _axes(v, dims):
    if isinstance(v, int):
        return [v] * dims
    v = list(v)
    if len(v) == 1:
        return v * dims
    if len(v) != dims:
        raise ValueError(f"{v} has {len(v)} entries for {dims} spatial dims")
    return v


class _BlockSpec:
    def __init__(self, dims, block):
        self.dims = dims
        self.norm = _get(block, "norm", "network.block")
        self.groups = int(block.get("norm_groups", 8))
        self.act = _get(block, "activation", "network.block")
        if self.norm not in ("batch", "instance", "group"):
            raise ValueError(f"architecture.json: network.block.norm '{self.norm}' is not supported; "
                             "valid: batch, instance, group")
        if self.act not in ("relu", "leaky_relu", "gelu"):
            raise ValueError(f"architecture.json: network.block.activation '{self.act}' is not supported; "
                             "valid: relu, leaky_relu, gelu")

    def norm_layer(self, channels):
        if self.norm == "batch":
            return (nn.BatchNorm3d if self.dims == 3 else nn.BatchNorm2d)(channels)
        if self.norm == "instance":
            return InstanceNorm(channels)
        return nn.GroupNorm(self.groups, channels)

    def activate(self, x):
        if self.act == "relu":
            return F.relu(x)
        if self.act == "leaky_relu":
            return F.leaky_relu(x, 0.01)
        return F.gelu(x)


class InstanceNorm(nn.Module):
    """gtgm's instance norm: per-sample statistics always (eval mode too), affine, no running
    stats; like gtgm (and unlike nn.InstanceNorm3d) it accepts a single spatial element."""

    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return torch.instance_norm(x, self.weight, self.bias, None, None, True, 0.1, self.eps,
                                   torch.backends.cudnn.enabled)


def _get(d, key, where):
    if key not in d:
        raise KeyError(f"architecture.json: {where}.{key} is missing")
    return d[key]


class ConvNormAct(nn.Module):
    def __init__(self, spec, cin, cout, kernel, stride=1):
        super().__init__()
        self.spec = spec
        self.conv = _conv(spec.dims, cin, cout, kernel, stride)
        self.norm = spec.norm_layer(cout)

    def forward(self, x):
        return self.spec.activate(self.norm(self.conv(x)))


def _downsample(spec, cin, cout, stride):
    return nn.Sequential(_conv(spec.dims, cin, cout, 1, stride), spec.norm_layer(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, spec, cin, planes, stride):
        super().__init__()
        self.spec = spec
        self.conv1 = _conv(spec.dims, cin, planes, 3, stride)
        self.bn1 = spec.norm_layer(planes)
        self.conv2 = _conv(spec.dims, planes, planes, 3)
        self.bn2 = spec.norm_layer(planes)
        unit = all(s == 1 for s in _axes(stride, spec.dims))
        self.downsample = None if unit and cin == planes else _downsample(spec, cin, planes, stride)

    def forward(self, x):
        y = self.spec.activate(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.spec.activate(y + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, spec, cin, planes, stride):
        super().__init__()
        self.spec = spec
        self.conv1 = _conv(spec.dims, cin, planes, 1)
        self.bn1 = spec.norm_layer(planes)
        self.conv2 = _conv(spec.dims, planes, planes, 3, stride)
        self.bn2 = spec.norm_layer(planes)
        self.conv3 = _conv(spec.dims, planes, planes * 4, 1)
        self.bn3 = spec.norm_layer(planes * 4)
        unit = all(s == 1 for s in _axes(stride, spec.dims))
        self.downsample = None if unit and cin == planes * 4 else _downsample(spec, cin, planes * 4, stride)

    def forward(self, x):
        y = self.spec.activate(self.bn1(self.conv1(x)))
        y = self.spec.activate(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.spec.activate(y + (self.downsample(x) if self.downsample is not None else x))


class ResidualBlock(nn.Module):
    """conv1 k (stride) -> norm1 -> act -> conv2 k -> norm2, + shortcut (skip + skip_norm) -> act."""

    def __init__(self, spec, cin, cout, kernel, stride=1):
        super().__init__()
        self.spec = spec
        self.conv1 = _conv(spec.dims, cin, cout, kernel, stride)
        self.norm1 = spec.norm_layer(cout)
        self.conv2 = _conv(spec.dims, cout, cout, kernel)
        self.norm2 = spec.norm_layer(cout)
        unit = all(s == 1 for s in _axes(stride, spec.dims))
        if not unit or cin != cout:
            self.skip = _conv(spec.dims, cin, cout, 1, stride)
            self.skip_norm = spec.norm_layer(cout)
        else:
            self.skip = None

    def forward(self, x):
        y = self.spec.activate(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return self.spec.activate(y + (self.skip_norm(self.skip(x)) if self.skip is not None else x))


class DoubleConv(nn.Module):
    """conv1 k (stride) -> norm1 -> act -> conv2 k -> norm2 -> act."""

    def __init__(self, spec, cin, cout, kernel, stride=1):
        super().__init__()
        self.spec = spec
        self.conv1 = _conv(spec.dims, cin, cout, kernel, stride)
        self.norm1 = spec.norm_layer(cout)
        self.conv2 = _conv(spec.dims, cout, cout, kernel)
        self.norm2 = spec.norm_layer(cout)

    def forward(self, x):
        y = self.spec.activate(self.norm1(self.conv1(x)))
        return self.spec.activate(self.norm2(self.conv2(y)))


def _resize_linear(x, size):
    return F.interpolate(x, size=list(size), mode="trilinear" if len(size) == 3 else "bilinear", align_corners=False)


class UpsampleBlock(nn.Module):
    """Transposed conv (kernel = stride = factor, bias) or 1^d conv (bias) then linear resize."""

    def __init__(self, dims, cin, cout, factor, transposed):
        super().__init__()
        self.factor = _axes(factor, dims)
        self.transposed = transposed and any(f != 1 for f in self.factor)
        if self.transposed:
            self.conv = _conv(dims, cin, cout, self.factor, self.factor, bias=True, transposed=True)
        else:
            self.conv = _conv(dims, cin, cout, 1, bias=True)

    def forward(self, x):
        y = self.conv(x)
        if self.transposed or all(f == 1 for f in self.factor):
            return y
        return _resize_linear(y, [s * f for s, f in zip(x.shape[2:], self.factor)])


# ---- encoders -----------------------------------------------------------------------------------
class _Encoder(nn.Module):
    def _init_embedding(self, width, embed_dim):
        # gtgm adds a Linear "embed" after global pooling only when the widths differ; the
        # segmentation network does not use it, but its tensors are part of the export.
        if embed_dim > 0 and embed_dim != width:
            self.embed = nn.Linear(width, embed_dim)


class ResNet3d(_Encoder):
    LAYERS = {10: [1, 1, 1, 1], 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3],
              152: [3, 8, 36, 3]}

    def __init__(self, dims, in_channels, spec, e):
        super().__init__()
        depth = int(_get(e, "depth", "network.encoder"))
        if depth not in self.LAYERS:
            raise ValueError(f"architecture.json: network.encoder.depth {depth} is not supported; "
                             f"valid: {sorted(self.LAYERS)}")
        base = int(_get(e, "base_channels", "network.encoder"))
        kernel = _axes(_get(e, "stem_kernel", "network.encoder"), dims)
        stride = _axes(_get(e, "stem_stride", "network.encoder"), dims)
        self.dims, self.spec, self.stem_pool = dims, spec, bool(e.get("stem_pool", True))
        # Exports written before model.stem_pool_stride existed pooled with stride 2 on every axis.
        self.pool_stride = _axes(e.get("stem_pool_stride", [2] * dims), dims)
        self.stem_kernel = kernel
        self.conv1 = _conv(dims, in_channels, base, kernel, stride)
        self.bn1 = spec.norm_layer(base)
        block = Bottleneck if depth >= 50 else BasicBlock
        cum = list(stride)
        self.features = [(base, list(cum))]
        if self.stem_pool:
            cum = [c * p for c, p in zip(cum, self.pool_stride)]
        cin = base
        for i, n in enumerate(self.LAYERS[depth]):
            planes = base << i
            s = 1 if i == 0 else 2
            layer = []
            for b in range(n):
                layer.append(block(spec, cin, planes, s if b == 0 else 1))
                cin = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            cum = [c * s for c in cum]
            self.features.append((cin, list(cum)))
        self._init_embedding(cin, int(e.get("embed_dim", 0)))

    def forward(self, x):
        y = self.spec.activate(self.bn1(self.conv1(x)))
        feats = [y]
        if self.stem_pool:
            pool = F.max_pool3d if self.dims == 3 else F.max_pool2d
            y = pool(y, 3, tuple(self.pool_stride), 1)
        for i in range(4):
            y = getattr(self, f"layer{i + 1}")(y)
            feats.append(y)
        return feats


class ResUNetEncoder(_Encoder):
    def __init__(self, dims, in_channels, spec, e, residual):
        super().__init__()
        channels = [int(c) for c in _get(e, "channels", "network.encoder")]
        n = len(channels)
        strides = e.get("strides") or [[1 if i == 0 else 2] * dims for i in range(n)]
        kernels = e.get("kernels") or [[3] * dims for _ in range(n)]
        blocks = e.get("blocks") or [1] * n
        for key, v in (("strides", strides), ("kernels", kernels), ("blocks", blocks)):
            if len(v) != n:
                raise ValueError(f"architecture.json: network.encoder.{key} has {len(v)} entries for {n} stages")
        self.stem = ConvNormAct(spec, in_channels, channels[0], _axes(kernels[0], dims))
        stages, cum, cin = [], [1] * dims, channels[0]
        self.features = []
        for i in range(n):
            stride, kernel = _axes(strides[i], dims), _axes(kernels[i], dims)
            layer = []
            for b in range(int(blocks[i])):
                s = stride if b == 0 else 1
                cls = ResidualBlock if residual else DoubleConv
                layer.append(cls(spec, cin if b == 0 else channels[i], channels[i], kernel, s))
            stages.append(nn.Sequential(*layer))
            cum = [c * s for c, s in zip(cum, stride)]
            self.features.append((channels[i], list(cum)))
            cin = channels[i]
        self.stages = nn.ModuleList(stages)
        self._init_embedding(cin, int(e.get("embed_dim", 0)))

    def forward(self, x):
        y = self.stem(x)
        feats = []
        for stage in self.stages:
            y = stage(y)
            feats.append(y)
        return feats


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x):
        b, n, c = x.shape
        dh = c // self.heads
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, dh).permute(2, 0, 3, 1, 4)  # [3, B, h, N, dh]
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(dh)), -1)
        y = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, c)
        return self.proj(y)


class _Mlp(nn.Module):
    def __init__(self, hidden, mlp_dim):
        super().__init__()
        self.fc1 = nn.Linear(hidden, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, hidden)


class TransformerBlock(nn.Module):
    def __init__(self, hidden, heads, mlp_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden)
        self.attn = SelfAttention(hidden, heads)
        self.norm2 = nn.LayerNorm(hidden)
        self.mlp = _Mlp(hidden, mlp_dim)

    def forward(self, x):
        y = x + self.attn(self.norm1(x))
        return y + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(y))))


def sincos_position_embedding(grid, hidden):
    """Fixed sin-cos embedding [prod(grid), hidden] as gtgm computes it (float64, then float32)."""
    dims = len(grid)
    if hidden % (2 * dims):
        raise ValueError(f"sin-cos position embedding needs hidden size {hidden} divisible by {2 * dims}")
    half = hidden // dims // 2
    omega = 1.0 / torch.pow(10000.0, torch.arange(half, dtype=torch.float64) / half)
    mesh = torch.meshgrid(*[torch.arange(g, dtype=torch.float64) for g in grid], indexing="ij")
    parts = []
    for m in mesh:
        out = m.reshape(-1, 1) * omega.reshape(1, -1)
        parts += [torch.sin(out), torch.cos(out)]
    return torch.cat(parts, 1).float()


def vit_tap_layers(patch, num_layers):
    levels = max((int(p) - 1).bit_length() for p in patch)
    levels = max(1, min(levels, num_layers))
    return [max(1, (k * num_layers + levels // 2) // levels) for k in range(1, levels + 1)]


class ViT3d(_Encoder):
    def __init__(self, dims, in_channels, e):
        super().__init__()
        w = "network.encoder"
        self.patch = _axes(_get(e, "patch_size", w), dims)
        self.input_size = _axes(_get(e, "input_size", w), dims)
        self.hidden = int(_get(e, "hidden_size", w))
        num_layers, heads = int(_get(e, "num_layers", w)), int(_get(e, "num_heads", w))
        self.pos_kind = _get(e, "pos_embed", w)
        if self.pos_kind not in ("learnable", "sincos"):
            raise ValueError(f"architecture.json: network.encoder.pos_embed '{self.pos_kind}' is not supported; "
                             "valid: learnable, sincos")
        self.base_grid = [s // p for s, p in zip(self.input_size, self.patch)]
        self.patch_embed = _conv(dims, in_channels, self.hidden, self.patch, self.patch, padding=[0] * dims, bias=True)
        if self.pos_kind == "learnable":
            self.pos_embed = nn.Parameter(torch.zeros(1, math.prod(self.base_grid), self.hidden))
        self.blocks = nn.ModuleList(TransformerBlock(self.hidden, heads, int(_get(e, "mlp_dim", w)))
                                    for _ in range(num_layers))
        self.norm = nn.LayerNorm(self.hidden)
        self.taps = vit_tap_layers(self.patch, num_layers)
        if "tap_layers" in e and list(e["tap_layers"]) != self.taps:
            raise ValueError(f"architecture.json: network.encoder.tap_layers {e['tap_layers']} differ from "
                             f"{self.taps} computed here (an export of a newer gtgm?)")
        self.features = [(self.hidden, list(self.patch)) for _ in self.taps]
        self._init_embedding(self.hidden, int(e.get("embed_dim", 0)))

    def position_embedding(self, grid):
        if self.pos_kind == "sincos":
            return sincos_position_embedding(grid, self.hidden).unsqueeze(0).to(self.patch_embed.weight.device)
        if list(grid) == self.base_grid:
            return self.pos_embed
        d = len(grid)
        img = self.pos_embed.reshape([1] + self.base_grid + [self.hidden]).permute([0, d + 1] + list(range(1, d + 1)))
        return _resize_linear(img, grid).flatten(2).transpose(1, 2)

    def forward(self, x):
        tokens = self.patch_embed(x)  # [B, hidden, *grid]
        grid = list(tokens.shape[2:])
        b = tokens.shape[0]
        tokens = tokens.flatten(2).transpose(1, 2)  # [B, N, hidden]
        tokens = tokens + self.position_embedding(grid).to(tokens.dtype)
        feats = []
        for i, blk in enumerate(self.blocks):
            tokens = blk(tokens)
            if i + 1 == len(self.blocks):
                tokens = self.norm(tokens)
            for t in self.taps:
                if t == i + 1:
                    feats.append(tokens.transpose(1, 2).reshape([b, self.hidden] + grid))
        return feats


# ---- decoders -----------------------------------------------------------------------------------
class UNetDecoder(nn.Module):
    def __init__(self, spec, features, d):
        super().__init__()
        levels = len(features) - 1
        if levels < 1:
            raise ValueError("unet decoder needs an encoder with at least 2 feature levels")
        ch = [int(c) for c in _get(d, "channels", "network.decoder")]
        if len(ch) != levels:
            raise ValueError(f"architecture.json: network.decoder.channels has {len(ch)} entries for {levels} levels")
        upsample = _get(d, "upsample", "network.decoder")
        if upsample not in ("transposed", "interpolate"):
            raise ValueError(f"architecture.json: network.decoder.upsample '{upsample}' is not supported; "
                             "valid: transposed, interpolate")
        transposed = upsample == "transposed"
        ups, blocks = [None] * levels, [None] * levels
        for j in range(levels):
            cin = features[j + 1][0] if j + 1 == levels else ch[j + 1]
            hi, lo = features[j][1], features[j + 1][1]
            if any(l % h for h, l in zip(hi, lo)):
                raise ValueError(f"unet decoder: encoder stride {lo} of level {j + 1} is not a multiple of {hi}")
            ups[j] = UpsampleBlock(spec.dims, cin, ch[j], [l // h for h, l in zip(hi, lo)], transposed)
            blocks[j] = DoubleConv(spec, ch[j] + features[j][0], ch[j], 3)
        self.ups, self.blocks = nn.ModuleList(ups), nn.ModuleList(blocks)
        self.output_channels = list(ch)
        if any(s != 1 for s in features[0][1]):
            cf = max(1, ch[0] // 2)
            self.final_up = UpsampleBlock(spec.dims, ch[0], cf, features[0][1], transposed)
            self.final_block = DoubleConv(spec, cf, cf, 3)
            self.output_channels.insert(0, cf)
        else:
            self.final_up = None

    def forward(self, x, feats):
        levels = len(feats) - 1
        maps = [None] * levels
        y = feats[-1]
        for j in reversed(range(levels)):
            y = self.blocks[j](torch.cat([self.ups[j](y), feats[j]], 1))
            maps[j] = y
        if self.final_up is not None:
            maps.insert(0, self.final_block(self.final_up(maps[0])))
        return maps


def center_crop_pad_add(x, y):
    """The GTGM reference's ResUNet.center_crop_padding (finetune/resunet.py:64-86) for 2D and 3D: x + y after
    zero-padding x (floor half before; negative amounts crop) when any axis is smaller, else centre-cropping it."""
    xs, ys = list(x.shape[2:]), list(y.shape[2:])
    if xs == ys:
        return x + y
    if any(a < b for a, b in zip(xs, ys)):
        pad = []
        for a, b in reversed(list(zip(xs, ys))):
            before = (b - a) // 2
            pad += [before, b - a - before]
        return F.pad(x, pad) + y
    for i, (a, b) in enumerate(zip(xs, ys)):
        x = x.narrow(i + 2, (a - b) // 2, b)
    return x + y


class ResUNetDecoder(nn.Module):
    """The GTGM reference's ResUNet decoder (finetune/resunet.py:51-62, 88-106) over a ResNet3d encoder, as
    models::ResUNetDecoder: upconv4..2 (kernel = stride = 2) and upconv1 (kernel = stem kernel, stride 1) with
    additive skips, decoderK = conv 3 (bias) -> ReLU -> conv 3 (bias) -> ReLU, and an adaptive average pool to
    the input size before decoder1. Outputs: decoder1..decoder4 (highest resolution first)."""

    def __init__(self, encoder):
        super().__init__()
        dims = encoder.dims
        c = [ch for ch, _ in encoder.features]
        if len(c) != 5:
            raise ValueError("architecture.json: network.decoder.type 'resunet' needs a resnet3d encoder")
        self.dims, self.stem_pool, self.pool_stride = dims, encoder.stem_pool, encoder.pool_stride
        for j in (4, 3, 2):
            setattr(self, f"upconv{j}", _conv(dims, c[j], c[j - 1], 2, 2, bias=True, transposed=True))
        kernel = encoder.stem_kernel
        self.upconv1 = _conv(dims, c[1], c[0], kernel, 1, padding=[k // 2 for k in kernel], bias=True,
                             transposed=True)
        for j in (4, 3, 2, 1):
            ch = c[j - 1]
            setattr(self, f"decoder{j}", nn.Sequential(_conv(dims, ch, ch, 3, bias=True), nn.ReLU(),
                                                       _conv(dims, ch, ch, 3, bias=True), nn.ReLU()))
        self.output_channels = c[:4]

    def forward(self, x, feats):
        x1 = feats[0]
        if self.stem_pool:
            pool = F.max_pool3d if self.dims == 3 else F.max_pool2d
            x1 = pool(x1, 3, tuple(self.pool_stride), 1)
        maps = [None] * 4
        y = feats[4]
        for j in (4, 3, 2):
            y = center_crop_pad_add(getattr(self, f"upconv{j}")(y), feats[j - 1])
            y = getattr(self, f"decoder{j}")(y)
            maps[j - 1] = y
        y = center_crop_pad_add(self.upconv1(y), x1)
        adapool = F.adaptive_avg_pool3d if self.dims == 3 else F.adaptive_avg_pool2d
        maps[0] = self.decoder1(adapool(y, tuple(x.shape[2:])))
        return maps


class UNETRDecoder(nn.Module):
    def __init__(self, spec, in_channels, hidden, patch, d):
        super().__init__()
        dims = spec.dims
        for p in patch:
            if p <= 0 or p & (p - 1):
                raise ValueError(f"unetr decoder needs power-of-two patch sizes, got {patch}")
        L = max(max(0, (p - 1).bit_length()) for p in patch)
        if L < 1:
            raise ValueError(f"unetr decoder needs a patch size > 1 on some axis, got {patch}")
        fs = int(_get(d, "feature_size", "network.decoder"))

        def stride_at(j):
            return [min(1 << j, p) for p in patch]

        def factor(j):
            return [a // b for a, b in zip(stride_at(j + 1), stride_at(j))]

        def tconv(cin, cout, f):
            return _conv(dims, cin, cout, f, f, transposed=True)

        def ch(j):
            return fs << j

        self.levels = L
        self.encoder0 = ResidualBlock(spec, in_channels, ch(0), 3)
        skips = []
        for k in range(1, L):
            seq = [tconv(hidden, ch(k), factor(L - 1))]
            for m in range(L - 1, k, -1):
                seq += [tconv(ch(k), ch(k), factor(m - 1)), ResidualBlock(spec, ch(k), ch(k), 3)]
            skips.append(nn.Sequential(*seq))
        self.skips = nn.ModuleList(skips)
        self.ups = nn.ModuleList(tconv(hidden if j + 1 == L else ch(j + 1), ch(j), factor(j)) for j in range(L))
        self.blocks = nn.ModuleList(ResidualBlock(spec, 2 * ch(j), ch(j), 3) for j in range(L))
        self.output_channels = [ch(j) for j in range(L)]

    def forward(self, x, feats):
        L = self.levels
        if len(feats) != L:
            raise ValueError(f"unetr decoder needs {L} token grids, got {len(feats)}")
        skip = [self.encoder0(x)] + [self.skips[k - 1](feats[k - 1]) for k in range(1, L)]
        maps = [None] * L
        y = feats[L - 1]
        for j in reversed(range(L)):
            y = self.blocks[j](torch.cat([self.ups[j](y), skip[j]], 1))
            maps[j] = y
        return maps


class SegmentationHead(nn.Module):
    def __init__(self, dims, in_channels, out_channels, deep_supervision):
        super().__init__()
        self.out = _conv(dims, in_channels[0], out_channels, 1, bias=True)
        if deep_supervision and len(in_channels) > 1:
            self.deep = nn.ModuleList(_conv(dims, c, out_channels, 1, bias=True) for c in in_channels[1:])
        else:
            self.deep = None


# ---- the network --------------------------------------------------------------------------------
class SegmentationNetwork(nn.Module):
    """encoder + decoder + head, module paths as in gtgm (state dict keys "encoder.*", "decoder.*",
    "head.*"). forward(x [B, C, *S]) -> logits [B, K, *S]."""

    def __init__(self, network):
        super().__init__()
        dims = int(_get(network, "spatial_dims", "network"))
        if dims not in (2, 3):
            raise ValueError(f"architecture.json: network.spatial_dims {dims} is not supported; valid: 2, 3")
        in_channels = int(_get(network, "in_channels", "network"))
        spec = _BlockSpec(dims, _get(network, "block", "network"))
        e = _get(network, "encoder", "network")
        etype = _get(e, "type", "network.encoder")
        if etype == "resnet3d":
            self.encoder = ResNet3d(dims, in_channels, spec, e)
        elif etype in ("resunet", "unet"):
            self.encoder = ResUNetEncoder(dims, in_channels, spec, e, residual=etype == "resunet")
        elif etype == "vit3d":
            self.encoder = ViT3d(dims, in_channels, e)
        else:
            raise ValueError(f"architecture.json: network.encoder.type '{etype}' is not supported; "
                             "valid: resnet3d, resunet, unet, vit3d")
        d = _get(network, "decoder", "network")
        dtype = _get(d, "type", "network.decoder")
        if dtype == "unet":
            if etype == "vit3d":
                raise ValueError("architecture.json: network.decoder.type 'unet' cannot follow a vit3d encoder")
            self.decoder = UNetDecoder(spec, self.encoder.features, d)
        elif dtype == "unetr":
            if etype != "vit3d":
                raise ValueError(f"architecture.json: network.decoder.type 'unetr' needs a vit3d encoder, got {etype}")
            self.decoder = UNETRDecoder(spec, in_channels, self.encoder.hidden, self.encoder.patch, d)
        elif dtype == "resunet":
            if etype != "resnet3d":
                raise ValueError(f"architecture.json: network.decoder.type 'resunet' needs a resnet3d encoder, got {etype}")
            self.decoder = ResUNetDecoder(self.encoder)
        else:
            raise ValueError(f"architecture.json: network.decoder.type '{dtype}' is not supported; "
                             "valid: unet, unetr, resunet")
        if "output_channels" in d and list(d["output_channels"]) != self.decoder.output_channels:
            raise ValueError(f"architecture.json: network.decoder.output_channels {d['output_channels']} differ "
                             f"from {self.decoder.output_channels} built here")
        h = _get(network, "head", "network")
        htype = h.get("type", "segmentation")
        if htype not in ("segmentation", "affinity"):
            raise ValueError(f"architecture.json: network.head.type '{htype}' is not supported; "
                             "valid: segmentation, affinity")
        self.head = SegmentationHead(dims, self.decoder.output_channels, int(_get(h, "out_channels", "network.head")),
                                     bool(h.get("deep_supervision", False)))
        self.head_type = htype
        self.dims, self.in_channels = dims, in_channels
        self.size_divisor = list(self.encoder.patch) if etype == "vit3d" else list(self.encoder.features[-1][1])
        if "size_divisor" in network and list(network["size_divisor"]) != self.size_divisor:
            raise ValueError(f"architecture.json: network.size_divisor {network['size_divisor']} differs from "
                             f"{self.size_divisor} built here")

    def _decode(self, x):
        if x.dim() != self.dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input [B, {self.in_channels}, {self.dims} spatial dims], got {list(x.shape)}")
        sizes = list(x.shape[2:])
        padded = [(s + d - 1) // d * d for s, d in zip(sizes, self.size_divisor)]
        pad = []
        for s, p in reversed(list(zip(sizes, padded))):
            pad += [0, p - s]
        inp = F.pad(x, pad) if padded != sizes else x
        maps = self.decoder(inp, self.encoder(inp))
        if padded == sizes:
            return maps
        out = []
        for m in maps:
            for a in range(self.dims):
                s = inp.shape[a + 2] // m.shape[a + 2]
                m = m.narrow(a + 2, 0, (sizes[a] + s - 1) // s)
            out.append(m)
        return out

    def forward(self, x):
        """x [B, C, *S] -> logits [B, K, *S] (softmax for segmentation, sigmoid for affinity)."""
        return self.head.out(self._decode(x)[0])

    def forward_deep(self, x):
        """Logits at every decoder level, full resolution first (deep-supervision heads)."""
        maps = self._decode(x)
        out = [self.head.out(maps[0])]
        if self.head.deep is not None:
            out += [conv(m) for conv, m in zip(self.head.deep, maps[1:])]
        return out


def build_network(architecture):
    """An untrained SegmentationNetwork from architecture.json's content (a dict)."""
    fmt = architecture.get("format")
    if fmt != FORMAT:
        raise ValueError(f"architecture.json: format is '{fmt}', expected '{FORMAT}' (an encoder-only export "
                         "holds no decoder; export a fine-tuning run)")
    if int(architecture.get("version", 0)) > 1:
        raise ValueError(f"architecture.json: version {architecture['version']} is newer than this module (1)")
    return SegmentationNetwork(_get(architecture, "network", "architecture"))


def load_exported(folder, map_location="cpu"):
    """Rebuilds the network of a `gtgm export` folder and loads its weights strictly
    (model.safetensors, or model.pt when absent). Returns it in eval mode."""
    with open(os.path.join(folder, "architecture.json")) as f:
        arch = json.load(f)
    net = build_network(arch)
    st = os.path.join(folder, "model.safetensors")
    if os.path.exists(st):
        state, _ = read_safetensors(st)
    else:
        state = torch.load(os.path.join(folder, "model.pt"), map_location=map_location)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RuntimeError(f"{folder}: the weights do not fit the architecture built from architecture.json: {e}")
    return net.to(map_location).eval()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("export_dir")
    ap.add_argument("--input", help=".safetensors holding the tensor 'input' [B, C, *S]")
    ap.add_argument("--output", help=".safetensors to write 'logits' (and 'deep.<i>') to")
    args = ap.parse_args(argv)
    net = load_exported(args.export_dir)
    n = sum(p.numel() for p in net.parameters())
    e = type(net.encoder).__name__
    print(f"gtgm_models: {e} + {type(net.decoder).__name__}, {n} parameters, size divisor {net.size_divisor}")
    if args.input:
        x = read_safetensors(args.input)[0]["input"].float()
        with torch.no_grad():
            outs = net.forward_deep(x)
        tensors = {"logits": outs[0]}
        tensors.update({f"deep.{i}": t for i, t in enumerate(outs[1:])})
        write_safetensors(args.output or "logits.safetensors", tensors)
        print(f"logits {list(outs[0].shape)} -> {args.output}")


if __name__ == "__main__":
    sys.exit(main())
