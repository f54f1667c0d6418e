#!/usr/bin/python3
"""Independent plain-PyTorch references for gtgm's models (run once with /usr/bin/python3, torch 1.13).

Writes into tests/data/models/:
  resnet3d_reference.json  parameter counts of the 3D ResNets (1 input channel, 64 base channels,
                           3x7x7 / 1x2x2 stem, no classifier) as in the GTGM reference code's
                           pretrain/utils/utils_resnet3d.py (Hara et al. 3D-ResNet layout), and the
                           state-dict keys and shapes of ResNet-18 and ResNet-50 (checkpoint keys).
                           The stem is that file's: conv1 (3, 7, 7) stride (1, 2, 2) padding (1, 3, 3)
                           (line 26) and MaxPool3d(kernel (3, 3, 3), stride (1, 2, 2), padding 1)
                           (line 30); an earlier version of this script pooled with stride 2.
  resnet3d_tiny.pt         a tiny bottleneck ResNet-50 (base 1 channel) with random weights and
                           BatchNorm statistics, an input and its eval-mode outputs (pooled + features).
  vit_tiny.pt              a tiny anisotropic-patch ViT (learnable position embeddings evaluated at
                           a different input size, i.e. interpolated) with its outputs.
  sincos_reference.pt      a 3D sin-cos position embedding.
The C++ tests (tests/models/test_models_parity.cpp) load these with torch::pickle_load.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "models")


# ---- 3D ResNet (Hara et al. layout, as imported by the GTGM reference code) -------------------
class Basic(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv3d(cin, planes, 1, stride, bias=False), nn.BatchNorm3d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottle(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * 4)
        self.downsample = None
        if stride != 1 or cin != planes * 4:
            self.downsample = nn.Sequential(nn.Conv3d(cin, planes * 4, 1, stride, bias=False), nn.BatchNorm3d(planes * 4))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


LAYERS = {10: (Basic, [1, 1, 1, 1]), 18: (Basic, [2, 2, 2, 2]), 34: (Basic, [3, 4, 6, 3]),
          50: (Bottle, [3, 4, 6, 3]), 101: (Bottle, [3, 4, 23, 3]), 152: (Bottle, [3, 8, 36, 3])}


class ResNet3D(nn.Module):
    def __init__(self, depth, in_ch=1, base=64):
        super().__init__()
        block, counts = LAYERS[depth]
        self.conv1 = nn.Conv3d(in_ch, base, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(base)
        # As pretrain/utils/utils_resnet3d.py:30 (and finetune/utils_resnet3d.py:30).
        self.maxpool = nn.MaxPool3d(kernel_size=(3, 3, 3), stride=(1, 2, 2), padding=(1, 1, 1))
        cin = base
        for i, n in enumerate(counts):
            planes = base * 2 ** i
            blocks = []
            for b in range(n):
                blocks.append(block(cin, planes, (2 if i > 0 else 1) if b == 0 else 1))
                cin = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))

    def forward(self, x):
        feats = []
        y = F.relu(self.bn1(self.conv1(x)))
        feats.append(y)
        y = self.maxpool(y)
        for i in range(4):
            y = getattr(self, f"layer{i + 1}")(y)
            feats.append(y)
        return y.mean(dim=(2, 3, 4)), feats


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=gen) + 0.5
            m.bias.data = torch.randn(n, generator=gen) * 0.1
            m.running_mean = torch.randn(n, generator=gen) * 0.1
            m.running_var = torch.rand(n, generator=gen) + 0.5


# ---- tiny ViT (timm-style pre-norm blocks, interpolated learnable position embeddings) ----------
class Block(nn.Module):
    def __init__(self, c, heads, mlp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(c)
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)
        self.norm2 = nn.LayerNorm(c)
        self.fc1 = nn.Linear(c, mlp)
        self.fc2 = nn.Linear(mlp, c)

    def attn(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1) / math.sqrt(c // self.heads)).softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, c))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


def sincos_3d(grid, c):
    per = c // 3
    half = per // 2
    omega = 1.0 / 10000 ** (torch.arange(half, dtype=torch.float64) / half)
    coords = torch.meshgrid(*[torch.arange(g, dtype=torch.float64) for g in grid], indexing="ij")
    parts = []
    for m in coords:
        o = m.reshape(-1, 1) * omega.reshape(1, -1)
        parts += [torch.sin(o), torch.cos(o)]
    return torch.cat(parts, 1).float()


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    ref = {"note": "3D ResNet (Hara et al. layout), in_channels 1, base 64, stem 3x7x7 stride 1x2x2, "
                   "max-pool 3x3x3 stride 1x2x2, no fc",
           "parameters": {}, "keys": {}}
    for depth in (10, 18, 34, 50, 101, 152):
        m = ResNet3D(depth)
        ref["parameters"][str(depth)] = sum(p.numel() for p in m.parameters())
        if depth in (18, 50):
            ref["keys"][str(depth)] = {k: list(v.shape) for k, v in m.state_dict().items()}
        print(f"ResNet-{depth} 3D: {ref['parameters'][str(depth)]:,} parameters")
    with open(os.path.join(OUT, "resnet3d_reference.json"), "w") as f:
        json.dump(ref, f, indent=0, sort_keys=True)

    # Tiny bottleneck ResNet-50 (base 1 channel), eval mode with non-trivial BatchNorm statistics.
    gen = torch.Generator().manual_seed(1)
    m = ResNet3D(50, in_ch=2, base=1)
    for p in m.parameters():
        p.data = torch.randn(p.shape, generator=gen) * (2.0 / max(1, p[0].numel())) ** 0.5
    randomize_bn(m, gen)
    m.eval()
    x = torch.randn(2, 2, 5, 12, 10, generator=gen)
    with torch.no_grad():
        pooled, feats = m(x)
    blob = {"state." + k: v.clone() for k, v in m.state_dict().items()}
    blob["input"] = x
    blob["pooled"] = pooled
    for i, t in enumerate(feats):
        blob[f"feature{i}"] = t
    torch.save(blob, os.path.join(OUT, "resnet3d_tiny.pt"))

    # Tiny ViT: hidden 12, 3 heads, 2 layers, patch (2, 4, 4), made for 4x8x8, run at 6x12x8.
    gen = torch.Generator().manual_seed(2)
    c, heads, mlp, patch, base_grid = 12, 3, 20, (2, 4, 4), (2, 2, 2)
    patch_embed = nn.Conv3d(1, c, patch, patch)
    blocks = nn.ModuleList([Block(c, heads, mlp) for _ in range(2)])
    norm = nn.LayerNorm(c)
    pos = torch.randn(1, 8, c, generator=gen) * 0.5
    for mod in (patch_embed, blocks, norm):
        for p in mod.parameters():
            p.data = torch.randn(p.shape, generator=gen) * 0.3
    x = torch.randn(2, 1, 6, 12, 8, generator=gen)
    with torch.no_grad():
        t = patch_embed(x)  # [2, c, 3, 3, 2]
        grid = t.shape[2:]
        t = t.flatten(2).transpose(1, 2)
        p = pos.reshape(1, *base_grid, c).permute(0, 4, 1, 2, 3)
        p = F.interpolate(p, size=tuple(grid), mode="trilinear", align_corners=False).flatten(2).transpose(1, 2)
        t = t + p
        t = blocks[0](t)
        tap1 = t.transpose(1, 2).reshape(2, c, *grid)
        t = norm(blocks[1](t))
        tap2 = t.transpose(1, 2).reshape(2, c, *grid)
        pooled = t.mean(1)
    blob = {"patch_embed.weight": patch_embed.weight.data, "patch_embed.bias": patch_embed.bias.data,
            "pos_embed": pos, "norm.weight": norm.weight.data, "norm.bias": norm.bias.data}
    for i, b in enumerate(blocks):
        for name, prefix in (("norm1", "norm1"), ("qkv", "attn.qkv"), ("proj", "attn.proj"), ("norm2", "norm2"),
                             ("fc1", "mlp.fc1"), ("fc2", "mlp.fc2")):
            mod = getattr(b, name)
            blob[f"blocks.{i}.{prefix}.weight"] = mod.weight.data
            blob[f"blocks.{i}.{prefix}.bias"] = mod.bias.data
    state = {"state." + k: v.clone() for k, v in blob.items()}
    state.update({"input": x, "pooled": pooled, "tap1": tap1, "tap2": tap2})
    torch.save(state, os.path.join(OUT, "vit_tiny.pt"))

    torch.save({"grid": torch.tensor([2, 3, 4]), "embedding": sincos_3d((2, 3, 4), 12)},
               os.path.join(OUT, "sincos_reference.pt"))
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
