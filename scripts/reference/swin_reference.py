#!/usr/bin/python3
"""Plain-PyTorch port of the GTGM reference code's SwinUNETR (run with /usr/bin/python3, torch 1.13; no MONAI,
no einops), for tests/models/test_swin3d.cpp.

Ported as they are from the reference repository (github.com/ydchen0806/GTGM) finetune/swin_unetr.py:
  SwinUNETR (lines 43-359; the pretrained-weight loading of lines 248-268 and load_from left out, the window
  size of line 105 made an argument: the reference hard-codes 7), window_partition (362-392), window_reverse
  (395-424), get_window_size (427-451), WindowAttention (454-560), SwinTransformerBlock (563-726, without
  load_from and checkpointing), PatchMergingV2 / PatchMerging (729-802), compute_mask (808-845), BasicLayer
  (848-945), SwinTransformer (948-1069). einops.rearrange calls are written as the equivalent permutes.
And the MONAI pieces that file imports (MONAI 1.x, monai/networks/blocks/...), ported as they are:
  MLPBlock (mlp.py; act GELU, dropout_mode "swin"), PatchEmbed (patchembedding.py), UnetResBlock,
  UnetOutBlock, get_conv_layer / get_padding / get_output_padding (dynunet_block.py), UnetrBasicBlock and
  UnetrUpBlock (unetr_block.py), the Convolution wrapper reduced to its "conv" child (convolutions.py: with no
  act / norm / dropout it holds only that), norm "instance" = nn.InstanceNorm3d (affine False), act
  "leakyrelu" = LeakyReLU(0.01), trunc_normal_ = torch.nn.init.trunc_normal_(std 0.02, a -2, b 2).

Writes tests/data/models/swin_tiny.pt with two cases (prefix a_ and b_): "state.<gtgm key>" tensors (the
reference keys renamed as gtgm_key() says) or, for tensors over 512 elements, "recipe.<gtgm key>" = (seed,
scale) of recipe() (the C++ test recomputes those values; the file stays small), every 5th row and column of
one relative_position_index,
the input as a recipe, the five hidden states of swinViT (normalised; every 2nd voxel), the pretraining output
(for_pretrain=True: encoder10 -> mean -> linear) and the logits before the final sigmoid (every 2nd slice,
every 4th row and column, plus the float64 sum of all).
  a: feature 12, depths (2, 2, 2, 2), heads (3, 6, 12, 24), window (4, 3, 4), in 1, out 2, input 2x1x32x64x32
     (stage sizes 16x32x16 .. 2x4x2: padding to the window, shrunken windows, masks on shifted blocks)
  b: feature 12, depths (2, 4, 2, 2), heads (3, 6, 12, 24), window 7 (the reference's), in 2, out 3,
     input 1x2x32x64x64
"""
import itertools
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "models")


# ---- MONAI pieces ------------------------------------------------------------------------------------
class MLPBlock(nn.Module):
    def __init__(self, hidden_size, mlp_dim, dropout_rate=0.0, act="GELU", dropout_mode="swin"):
        super().__init__()
        self.linear1 = nn.Linear(hidden_size, mlp_dim)
        self.linear2 = nn.Linear(mlp_dim, hidden_size)
        self.fn = nn.GELU()
        self.drop1 = nn.Dropout(dropout_rate)
        self.drop2 = self.drop1

    def forward(self, x):
        x = self.fn(self.linear1(x))
        x = self.drop1(x)
        x = self.linear2(x)
        x = self.drop2(x)
        return x


class PatchEmbed(nn.Module):
    def __init__(self, patch_size=2, in_chans=1, embed_dim=48, norm_layer=None, spatial_dims=3):
        super().__init__()
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = None

    def forward(self, x):
        _, _, d, h, w = x.size()
        if w % self.patch_size[2] != 0:
            x = F.pad(x, (0, self.patch_size[2] - w % self.patch_size[2]))
        if h % self.patch_size[1] != 0:
            x = F.pad(x, (0, 0, 0, self.patch_size[1] - h % self.patch_size[1]))
        if d % self.patch_size[0] != 0:
            x = F.pad(x, (0, 0, 0, 0, 0, self.patch_size[0] - d % self.patch_size[0]))
        return self.proj(x)


class ConvOnly(nn.Sequential):
    """monai.networks.blocks.Convolution with act=None, norm=None, dropout=None: only the "conv" child."""

    def __init__(self, conv):
        super().__init__()
        self.add_module("conv", conv)


def get_padding(kernel_size, stride):
    kernel_size_np = np.atleast_1d(kernel_size)
    stride_np = np.atleast_1d(stride)
    padding_np = (kernel_size_np - stride_np + 1) / 2
    padding = tuple(int(p) for p in padding_np)
    return padding if len(padding) > 1 else padding[0]


def get_output_padding(kernel_size, stride, padding):
    kernel_size_np = np.atleast_1d(kernel_size)
    stride_np = np.atleast_1d(stride)
    padding_np = np.atleast_1d(padding)
    out_padding_np = 2 * padding_np + stride_np - kernel_size_np
    out_padding = tuple(int(p) for p in out_padding_np)
    return out_padding if len(out_padding) > 1 else out_padding[0]


def get_conv_layer(in_channels, out_channels, kernel_size=3, stride=1, bias=False, is_transposed=False):
    padding = get_padding(kernel_size, stride)
    if is_transposed:
        output_padding = get_output_padding(kernel_size, stride, padding)
        conv = nn.ConvTranspose3d(in_channels, out_channels, kernel_size, stride, padding, output_padding, bias=bias)
    else:
        conv = nn.Conv3d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
    return ConvOnly(conv)


class UnetResBlock(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        self.conv1 = get_conv_layer(in_channels, out_channels, kernel_size=kernel_size, stride=stride)
        self.conv2 = get_conv_layer(out_channels, out_channels, kernel_size=kernel_size, stride=1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.01, inplace=True)
        self.norm1 = nn.InstanceNorm3d(out_channels)
        self.norm2 = nn.InstanceNorm3d(out_channels)
        self.downsample = in_channels != out_channels
        stride_np = np.atleast_1d(stride)
        if not np.all(stride_np == 1):
            self.downsample = True
        if self.downsample:
            self.conv3 = get_conv_layer(in_channels, out_channels, kernel_size=1, stride=stride)
            self.norm3 = nn.InstanceNorm3d(out_channels)

    def forward(self, inp):
        residual = inp
        out = self.conv1(inp)
        out = self.norm1(out)
        out = self.lrelu(out)
        out = self.conv2(out)
        out = self.norm2(out)
        if hasattr(self, "conv3"):
            residual = self.conv3(residual)
        if hasattr(self, "norm3"):
            residual = self.norm3(residual)
        out += residual
        out = self.lrelu(out)
        return out


class UnetrBasicBlock(nn.Module):
    def __init__(self, spatial_dims, in_channels, out_channels, kernel_size, stride, norm_name, res_block=True):
        super().__init__()
        self.layer = UnetResBlock(in_channels, out_channels, kernel_size, stride)

    def forward(self, inp):
        return self.layer(inp)


class UnetrUpBlock(nn.Module):
    def __init__(self, spatial_dims, in_channels, out_channels, kernel_size, upsample_kernel_size, norm_name,
                 res_block=True):
        super().__init__()
        upsample_stride = upsample_kernel_size
        self.transp_conv = get_conv_layer(in_channels, out_channels, kernel_size=upsample_kernel_size,
                                          stride=upsample_stride, is_transposed=True)
        self.conv_block = UnetResBlock(out_channels + out_channels, out_channels, kernel_size=kernel_size, stride=1)

    def forward(self, inp, skip):
        out = self.transp_conv(inp)
        out = torch.cat((out, skip), dim=1)
        out = self.conv_block(out)
        return out


class UnetOutBlock(nn.Module):
    def __init__(self, spatial_dims, in_channels, out_channels):
        super().__init__()
        self.conv = get_conv_layer(in_channels, out_channels, kernel_size=1, stride=1, bias=True)

    def forward(self, inp):
        return self.conv(inp)


# ---- finetune/swin_unetr.py ----------------------------------------------------------------------------
class SwinUNETR(nn.Module):
    def __init__(self, img_size, in_channels, out_channels, depths=(2, 2, 2, 2), num_heads=(3, 6, 12, 24),
                 feature_size=48, normalize=True, window=7, for_pretrain=False):
        super().__init__()
        spatial_dims = 3
        img_size = (img_size,) * 3 if isinstance(img_size, int) else tuple(img_size)
        patch_size = (2,) * 3
        window_size = (window,) * 3 if isinstance(window, int) else tuple(window)
        self.for_pretrain = for_pretrain
        self.linear = nn.Linear(16 * feature_size, 2048)
        for m, p in zip(img_size, patch_size):
            for i in range(5):
                if m % np.power(p, i + 1) != 0:
                    raise ValueError("input image size (img_size) should be divisible by stage-wise image resolution.")
        if feature_size % 12 != 0:
            raise ValueError("feature_size should be divisible by 12.")
        self.normalize = normalize
        self.adapool = nn.AdaptiveAvgPool3d(1)
        self.swinViT = SwinTransformer(in_chans=in_channels, embed_dim=feature_size, window_size=window_size,
                                       patch_size=patch_size, depths=depths, num_heads=num_heads, mlp_ratio=4.0,
                                       qkv_bias=True, norm_layer=nn.LayerNorm, spatial_dims=spatial_dims)
        fs = feature_size
        self.encoder1 = UnetrBasicBlock(3, in_channels, fs, 3, 1, "instance")
        self.encoder2 = UnetrBasicBlock(3, fs, fs, 3, 1, "instance")
        self.encoder3 = UnetrBasicBlock(3, 2 * fs, 2 * fs, 3, 1, "instance")
        self.encoder4 = UnetrBasicBlock(3, 4 * fs, 4 * fs, 3, 1, "instance")
        self.encoder10 = UnetrBasicBlock(3, 16 * fs, 16 * fs, 3, 1, "instance")
        self.decoder5 = UnetrUpBlock(3, 16 * fs, 8 * fs, 3, 2, "instance")
        self.decoder4 = UnetrUpBlock(3, fs * 8, fs * 4, 3, 2, "instance")
        self.decoder3 = UnetrUpBlock(3, fs * 4, fs * 2, 3, 2, "instance")
        self.decoder2 = UnetrUpBlock(3, fs * 2, fs, 3, 2, "instance")
        self.decoder1 = UnetrUpBlock(3, fs, fs, 3, 2, "instance")
        self.out = UnetOutBlock(3, fs, out_channels)

    def head(self, x):
        _, c, _, _, _ = x.shape
        x = self.adapool(x)
        x = x.view(-1, c)
        x = self.linear(x)
        return x

    def forward(self, x_in, logits_only=True):
        hidden_states_out = self.swinViT(x_in, self.normalize)
        enc0 = self.encoder1(x_in)
        enc1 = self.encoder2(hidden_states_out[0])
        enc2 = self.encoder3(hidden_states_out[1])
        enc3 = self.encoder4(hidden_states_out[2])
        dec4 = self.encoder10(hidden_states_out[4])
        if self.for_pretrain:
            dec4 = self.head(dec4)
            return dec4
        else:
            dec3 = self.decoder5(dec4, hidden_states_out[3])
            dec2 = self.decoder4(dec3, enc3)
            dec1 = self.decoder3(dec2, enc2)
            dec0 = self.decoder2(dec1, enc1)
            out = self.decoder1(dec0, enc0)
            logits = self.out(out)
            return logits if logits_only else torch.sigmoid(logits)


def window_partition(x, window_size):
    b, d, h, w, c = x.size()
    x = x.view(b, d // window_size[0], window_size[0], h // window_size[1], window_size[1], w // window_size[2],
               window_size[2], c)
    windows = x.permute(0, 1, 3, 5, 2, 4, 6, 7).contiguous().view(-1, window_size[0] * window_size[1] * window_size[2], c)
    return windows


def window_reverse(windows, window_size, dims):
    b, d, h, w = dims
    x = windows.view(b, d // window_size[0], h // window_size[1], w // window_size[2], window_size[0], window_size[1],
                     window_size[2], -1)
    x = x.permute(0, 1, 4, 2, 5, 3, 6, 7).contiguous().view(b, d, h, w, -1)
    return x


def get_window_size(x_size, window_size, shift_size=None):
    use_window_size = list(window_size)
    if shift_size is not None:
        use_shift_size = list(shift_size)
    for i in range(len(x_size)):
        if x_size[i] <= window_size[i]:
            use_window_size[i] = x_size[i]
            if shift_size is not None:
                use_shift_size[i] = 0
    if shift_size is None:
        return tuple(use_window_size)
    else:
        return tuple(use_window_size), tuple(use_shift_size)


class WindowAttention(nn.Module):
    def __init__(self, dim, num_heads, window_size, qkv_bias=False, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        self.dim = dim
        self.window_size = window_size
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * self.window_size[0] - 1) * (2 * self.window_size[1] - 1) * (2 * self.window_size[2] - 1),
                        num_heads))
        coords_d = torch.arange(self.window_size[0])
        coords_h = torch.arange(self.window_size[1])
        coords_w = torch.arange(self.window_size[2])
        coords = torch.stack(torch.meshgrid(coords_d, coords_h, coords_w, indexing="ij"))
        coords_flatten = torch.flatten(coords, 1)
        relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
        relative_coords = relative_coords.permute(1, 2, 0).contiguous()
        relative_coords[:, :, 0] += self.window_size[0] - 1
        relative_coords[:, :, 1] += self.window_size[1] - 1
        relative_coords[:, :, 2] += self.window_size[2] - 1
        relative_coords[:, :, 0] *= (2 * self.window_size[1] - 1) * (2 * self.window_size[2] - 1)
        relative_coords[:, :, 1] *= 2 * self.window_size[2] - 1
        relative_position_index = relative_coords.sum(-1)
        self.register_buffer("relative_position_index", relative_position_index)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x, mask):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * self.scale
        attn = q @ k.transpose(-2, -1)
        relative_position_bias = self.relative_position_bias_table[
            self.relative_position_index.clone()[:n, :n].reshape(-1)
        ].reshape(n, n, -1)
        relative_position_bias = relative_position_bias.permute(2, 0, 1).contiguous()
        attn = attn + relative_position_bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b // nw, nw, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, n, n)
            attn = self.softmax(attn)
        else:
            attn = self.softmax(attn)
        attn = self.attn_drop(attn).to(v.dtype)
        x = (attn @ v).transpose(1, 2).reshape(b, n, c)
        x = self.proj(x)
        x = self.proj_drop(x)
        return x


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, qkv_bias=True, drop=0.0,
                 attn_drop=0.0, drop_path=0.0, norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.window_size = window_size
        self.shift_size = shift_size
        self.mlp_ratio = mlp_ratio
        self.norm1 = norm_layer(dim)
        self.attn = WindowAttention(dim, window_size=self.window_size, num_heads=num_heads, qkv_bias=qkv_bias,
                                    attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = nn.Identity()
        self.norm2 = norm_layer(dim)
        mlp_hidden_dim = int(dim * mlp_ratio)
        self.mlp = MLPBlock(hidden_size=dim, mlp_dim=mlp_hidden_dim, act="GELU", dropout_rate=drop, dropout_mode="swin")

    def forward_part1(self, x, mask_matrix):
        x = self.norm1(x)
        b, d, h, w, c = x.shape
        window_size, shift_size = get_window_size((d, h, w), self.window_size, self.shift_size)
        pad_l = pad_t = pad_d0 = 0
        pad_d1 = (window_size[0] - d % window_size[0]) % window_size[0]
        pad_b = (window_size[1] - h % window_size[1]) % window_size[1]
        pad_r = (window_size[2] - w % window_size[2]) % window_size[2]
        x = F.pad(x, (0, 0, pad_l, pad_r, pad_t, pad_b, pad_d0, pad_d1))
        _, dp, hp, wp, _ = x.shape
        dims = [b, dp, hp, wp]
        if any(i > 0 for i in shift_size):
            shifted_x = torch.roll(x, shifts=(-shift_size[0], -shift_size[1], -shift_size[2]), dims=(1, 2, 3))
            attn_mask = mask_matrix
        else:
            shifted_x = x
            attn_mask = None
        x_windows = window_partition(shifted_x, window_size)
        attn_windows = self.attn(x_windows, mask=attn_mask)
        attn_windows = attn_windows.view(-1, *(window_size + (c,)))
        shifted_x = window_reverse(attn_windows, window_size, dims)
        if any(i > 0 for i in shift_size):
            x = torch.roll(shifted_x, shifts=(shift_size[0], shift_size[1], shift_size[2]), dims=(1, 2, 3))
        else:
            x = shifted_x
        if pad_d1 > 0 or pad_r > 0 or pad_b > 0:
            x = x[:, :d, :h, :w, :].contiguous()
        return x

    def forward_part2(self, x):
        return self.drop_path(self.mlp(self.norm2(x)))

    def forward(self, x, mask_matrix):
        shortcut = x
        x = self.forward_part1(x, mask_matrix)
        x = shortcut + self.drop_path(x)
        x = x + self.forward_part2(x)
        return x


class PatchMergingV2(nn.Module):
    def __init__(self, dim, norm_layer=nn.LayerNorm, spatial_dims=3):
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(8 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(8 * dim)

    def forward(self, x):
        b, d, h, w, c = x.size()
        pad_input = (h % 2 == 1) or (w % 2 == 1) or (d % 2 == 1)
        if pad_input:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2, 0, d % 2))
        x = torch.cat([x[:, i::2, j::2, k::2, :] for i, j, k in itertools.product(range(2), range(2), range(2))], -1)
        x = self.norm(x)
        x = self.reduction(x)
        return x


class PatchMerging(PatchMergingV2):
    def forward(self, x):
        b, d, h, w, c = x.size()
        pad_input = (h % 2 == 1) or (w % 2 == 1) or (d % 2 == 1)
        if pad_input:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2, 0, d % 2))
        x0 = x[:, 0::2, 0::2, 0::2, :]
        x1 = x[:, 1::2, 0::2, 0::2, :]
        x2 = x[:, 0::2, 1::2, 0::2, :]
        x3 = x[:, 0::2, 0::2, 1::2, :]
        x4 = x[:, 1::2, 0::2, 1::2, :]
        x5 = x[:, 0::2, 1::2, 0::2, :]
        x6 = x[:, 0::2, 0::2, 1::2, :]
        x7 = x[:, 1::2, 1::2, 1::2, :]
        x = torch.cat([x0, x1, x2, x3, x4, x5, x6, x7], -1)
        x = self.norm(x)
        x = self.reduction(x)
        return x


def compute_mask(dims, window_size, shift_size, device):
    cnt = 0
    d, h, w = dims
    img_mask = torch.zeros((1, d, h, w, 1), device=device)
    for d in slice(-window_size[0]), slice(-window_size[0], -shift_size[0]), slice(-shift_size[0], None):
        for h in slice(-window_size[1]), slice(-window_size[1], -shift_size[1]), slice(-shift_size[1], None):
            for w in slice(-window_size[2]), slice(-window_size[2], -shift_size[2]), slice(-shift_size[2], None):
                img_mask[:, d, h, w, :] = cnt
                cnt += 1
    mask_windows = window_partition(img_mask, window_size)
    mask_windows = mask_windows.squeeze(-1)
    attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
    attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(attn_mask == 0, float(0.0))
    return attn_mask


class BasicLayer(nn.Module):
    def __init__(self, dim, depth, num_heads, window_size, drop_path, mlp_ratio=4.0, qkv_bias=False, drop=0.0,
                 attn_drop=0.0, norm_layer=nn.LayerNorm, downsample=None):
        super().__init__()
        self.window_size = window_size
        self.shift_size = tuple(i // 2 for i in window_size)
        self.no_shift = tuple(0 for i in window_size)
        self.depth = depth
        self.blocks = nn.ModuleList([
            SwinTransformerBlock(dim=dim, num_heads=num_heads, window_size=self.window_size,
                                 shift_size=self.no_shift if (i % 2 == 0) else self.shift_size, mlp_ratio=mlp_ratio,
                                 qkv_bias=qkv_bias, drop=drop, attn_drop=attn_drop, norm_layer=norm_layer)
            for i in range(depth)])
        self.downsample = downsample
        if callable(self.downsample):
            self.downsample = downsample(dim=dim, norm_layer=norm_layer, spatial_dims=len(self.window_size))

    def forward(self, x):
        b, c, d, h, w = x.size()
        window_size, shift_size = get_window_size((d, h, w), self.window_size, self.shift_size)
        x = x.permute(0, 2, 3, 4, 1)  # rearrange "b c d h w -> b d h w c"
        dp = int(np.ceil(d / window_size[0])) * window_size[0]
        hp = int(np.ceil(h / window_size[1])) * window_size[1]
        wp = int(np.ceil(w / window_size[2])) * window_size[2]
        attn_mask = compute_mask([dp, hp, wp], window_size, shift_size, x.device)
        for blk in self.blocks:
            x = blk(x, attn_mask)
        x = x.view(b, d, h, w, -1)
        if self.downsample is not None:
            x = self.downsample(x)
        x = x.permute(0, 4, 1, 2, 3)  # rearrange "b d h w c -> b c d h w"
        return x


class SwinTransformer(nn.Module):
    def __init__(self, in_chans, embed_dim, window_size, patch_size, depths, num_heads, mlp_ratio=4.0,
                 qkv_bias=True, norm_layer=nn.LayerNorm, spatial_dims=3):
        super().__init__()
        self.num_layers = len(depths)
        self.embed_dim = embed_dim
        self.window_size = window_size
        self.patch_size = patch_size
        self.patch_embed = PatchEmbed(patch_size=self.patch_size, in_chans=in_chans, embed_dim=embed_dim)
        self.pos_drop = nn.Dropout(p=0.0)
        self.layers1 = nn.ModuleList()
        self.layers2 = nn.ModuleList()
        self.layers3 = nn.ModuleList()
        self.layers4 = nn.ModuleList()
        for i_layer in range(self.num_layers):
            layer = BasicLayer(dim=int(embed_dim * 2 ** i_layer), depth=depths[i_layer], num_heads=num_heads[i_layer],
                               window_size=self.window_size, drop_path=0.0, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                               norm_layer=norm_layer, downsample=PatchMerging)
            [self.layers1, self.layers2, self.layers3, self.layers4][i_layer].append(layer)
        self.num_features = int(embed_dim * 2 ** (self.num_layers - 1))

    def proj_out(self, x, normalize=False):
        if normalize:
            n, ch, d, h, w = x.size()
            x = x.permute(0, 2, 3, 4, 1)
            x = F.layer_norm(x, [ch])
            x = x.permute(0, 4, 1, 2, 3)
        return x

    def forward(self, x, normalize=True):
        x0 = self.patch_embed(x)
        x0 = self.pos_drop(x0)
        x0_out = self.proj_out(x0, normalize)
        x1 = self.layers1[0](x0.contiguous())
        x1_out = self.proj_out(x1, normalize)
        x2 = self.layers2[0](x1.contiguous())
        x2_out = self.proj_out(x2, normalize)
        x3 = self.layers3[0](x2.contiguous())
        x3_out = self.proj_out(x3, normalize)
        x4 = self.layers4[0](x3.contiguous())
        x4_out = self.proj_out(x4, normalize)
        return [x0_out, x1_out, x2_out, x3_out, x4_out]


# ---- golden values -------------------------------------------------------------------------------------
def gtgm_key(k):
    """Reference state-dict key -> gtgm SegmentationModel key (None: no gtgm counterpart)."""
    if k.startswith("swinViT."):
        return "encoder." + k
    if k.startswith("linear."):
        return "encoder.embed." + k[len("linear."):]
    if k.startswith("out.conv.conv."):
        return "head.out." + k[len("out.conv.conv."):]
    k = k.replace(".layer.", ".").replace(".conv.weight", ".weight").replace(".conv.bias", ".bias")
    k = k.replace("conv3.", "skip.")
    return ("encoder." if k.startswith("encoder10.") else "decoder.") + k


def recipe(n, seed, scale):
    """Deterministic values the C++ test recomputes: sin(i * 0.6180339887 + seed) * scale in float64 -> float32."""
    return ((torch.arange(n, dtype=torch.float64) * 0.6180339887 + seed).sin() * scale).float()


SMALL = 512  # tensors with more elements are stored as a recipe (seed, scale), not as values


def make_case(gen, img, in_ch, out_ch, depths, window, batch):
    m = SwinUNETR(img, in_ch, out_ch, depths=depths, feature_size=12, window=window)
    recipes = {}
    with torch.no_grad():
        for i, (name, p) in enumerate(m.named_parameters()):
            if name.endswith("relative_position_bias_table"):
                scale = 0.5
            elif "norm" in name:
                scale = 0.1
            elif p.dim() > 1:
                scale = (1.0 / p[0].numel()) ** 0.5
            else:
                scale = 0.1
            if p.numel() > SMALL:
                recipes[name] = (float(i) + 0.25, scale)
                p.copy_(recipe(p.numel(), float(i) + 0.25, scale).reshape(p.shape))
            else:
                base = 1.0 if ("norm" in name and name.endswith("weight")) else 0.0
                p.copy_(base + torch.randn(p.shape, generator=gen) * scale)
    m.eval()
    x_recipe = (0.5, 1.0)
    x = recipe(batch * in_ch * img[0] * img[1] * img[2], *x_recipe).reshape(batch, in_ch, *img)
    with torch.no_grad():
        hidden = m.swinViT(x, m.normalize)
        logits = m(x)
        m.for_pretrain = True
        pooled = m(x)
    out = {}
    rpi = None
    for k, v in m.state_dict().items():
        if k.endswith("relative_position_index"):
            rpi = v.clone()  # the same for every block (one window); gtgm computes its own and compares
            continue
        if k in recipes:
            out["recipe." + gtgm_key(k)] = torch.tensor(recipes[k], dtype=torch.float64)
        else:
            out["state." + gtgm_key(k)] = v.clone()
    out["relative_position_index_sub"] = rpi[::5, ::5].clone()  # every 5th row and column
    out["input_shape"] = torch.tensor(list(x.shape))
    out["input_recipe"] = torch.tensor(x_recipe, dtype=torch.float64)
    out["logits_sub"] = logits[:, :, ::2, ::4, ::4].clone()  # every 2nd slice, every 4th row / column
    out["logits_sum"] = logits.double().sum()
    out["pooled"] = pooled
    for i, h in enumerate(hidden):
        out[f"hidden{i}_sub"] = h[:, :, ::2, ::2, ::2].clone()
    print(f"input {tuple(x.shape)} window {window}: logits {tuple(logits.shape)} sum {logits.double().sum().item():.6f}, "
          f"pooled {tuple(pooled.shape)} sum {pooled.sum().item():.6f}, hidden sizes "
          f"{[tuple(h.shape[2:]) for h in hidden]}, {len(out)} entries ({len(recipes)} recipes)")
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(1414)
    torch.manual_seed(0)
    blob = {}
    for prefix, args in (("a_", dict(img=(32, 64, 32), in_ch=1, out_ch=2, depths=(2, 2, 2, 2), window=(4, 3, 4),
                                      batch=2)),
                         ("b_", dict(img=(32, 64, 64), in_ch=2, out_ch=3, depths=(2, 4, 2, 2), window=7, batch=1))):
        for k, v in make_case(gen, **args).items():
            blob[prefix + k] = v
    torch.save(blob, os.path.join(OUT, "swin_tiny.pt"))
    print("wrote", os.path.join(OUT, "swin_tiny.pt"), os.path.getsize(os.path.join(OUT, "swin_tiny.pt")), "bytes")


if __name__ == "__main__":
    main()
