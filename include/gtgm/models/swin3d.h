#pragma once
/// Swin Transformer encoder for 3D volumes as the GTGM reference code uses it (MONAI SwinUNETR's
/// SwinTransformer, copied into finetune/swin_unetr.py and pretrain/utils/swin_unetr.py): patch
/// embedding, 4 stages of windowed multi-head self-attention with a relative position bias (odd
/// blocks shift the windows by window / 2 and mask across the wrapped regions), each stage ending
/// with patch merging. Module paths follow that code (swinViT.patch_embed.proj,
/// swinViT.layers1.0.blocks.0.attn.qkv, ..., swinViT.layers4.0.downsample.reduction, encoder10), so
/// its state dicts map one-to-one (scripts/reference/swin_reference.py lists the renames).
#include "gtgm/models/blocks.h"
#include "gtgm/models/encoder.h"

namespace gtgm::models {

/// x [B, D, H, W, C] -> windows [B * nW, wd * wh * ww, C] (window order: batch, then D, H, W).
/// Sizes must be multiples of `window`.
torch::Tensor window_partition(const torch::Tensor& x, const Shape& window);
/// Inverse of window_partition: windows [B * nW, wd * wh * ww, C] -> [B, D, H, W, C]; dims = {B, D, H, W}.
torch::Tensor window_reverse(const torch::Tensor& windows, const Shape& window, const Shape& dims);
/// MONAI get_window_size: on axes where size <= window the window becomes the size and the shift 0.
std::pair<Shape, Shape> effective_window(const Shape& size, const Shape& window, const Shape& shift);
/// MONAI compute_mask for padded sizes `dims` (D, H, W): [nW, N, N] with 0 between tokens of the same
/// shifted region and -100 between different ones (regions by Python slice semantics, so a 0 shift
/// makes one region on that axis).
torch::Tensor shifted_window_mask(const Shape& dims, const Shape& window, const Shape& shift, const torch::Device& device);

/// Window attention: qkv Linear (bias), softmax(q k^T / sqrt(d) + relative position bias [+ mask]) v,
/// proj. relative_position_bias_table [(2wd-1)(2wh-1)(2ww-1), heads] (N(0, 0.02)),
/// relative_position_index [N, N] buffer for the configured window; a smaller effective window uses
/// its top-left [n, n] corner as MONAI does. x [B*nW, n, C] -> same.
class WindowAttentionImpl : public torch::nn::Module {
 public:
  WindowAttentionImpl(int64_t dim, int64_t heads, const Shape& window);
  /// mask: [nW, n, n] or undefined (no shift).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

  torch::Tensor relative_position_bias_table, relative_position_index;

 private:
  int64_t heads_;
  double scale_;
  Linear qkv_{nullptr}, proj_{nullptr};
};
TORCH_MODULE(WindowAttention);

/// Swin block: x + W-MSA(norm1(x)) (zero-padded to window multiples after norm1, rolled by -shift
/// when shifted), then x + mlp(norm2(x)) with mlp = linear1 -> GELU -> linear2 (MONAI MLPBlock).
/// x [B, D, H, W, C] -> same.
class SwinBlockImpl : public torch::nn::Module {
 public:
  SwinBlockImpl(int64_t dim, int64_t heads, const Shape& window, const Shape& shift, double mlp_ratio);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  Shape window_, shift_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  WindowAttention attn_{nullptr};
  Linear linear1_{nullptr}, linear2_{nullptr};
};
TORCH_MODULE(SwinBlock);

/// Patch merging (MONAI "merging", the v0.9 layout with its 8-slice order): odd sizes padded by one,
/// 2x2x2 neighbours concatenated (8C), norm (LayerNorm 8C), reduction Linear(8C -> 2C, no bias).
/// x [B, D, H, W, C] -> [B, ceil(D/2), ceil(H/2), ceil(W/2), 2C].
class PatchMergingImpl : public torch::nn::Module {
 public:
  explicit PatchMergingImpl(int64_t dim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::LayerNorm norm_{nullptr};
  Linear reduction_{nullptr};
};
TORCH_MODULE(PatchMerging);

/// One stage (MONAI BasicLayer): `depth` blocks, even ones unshifted, odd ones shifted by window / 2,
/// then patch merging. x [B, C, D, H, W] -> [B, 2C, D/2, H/2, W/2]. Submodules blocks.i, downsample.
class SwinStageImpl : public torch::nn::Module {
 public:
  SwinStageImpl(int64_t dim, int64_t depth, int64_t heads, const Shape& window, double mlp_ratio);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Shape window_, shift_;
  std::vector<SwinBlock> blocks_;
  PatchMerging downsample_{nullptr};
};
TORCH_MODULE(SwinStage);

/// features (fs = swin_feature_size, p = swin_patch_size): the stage outputs after the optional
/// channel layer norm (swin_normalize), [fs @ p, 2fs @ 2p, 4fs @ 4p, 8fs @ 8p], then encoder10 (a
/// residual block, instance norm, leaky ReLU) of the last stage, 16fs @ 16p, which SwinUNETR feeds to
/// both its pretraining head and its decoder. pooled: embed(mean of encoder10's output) (the
/// reference's Linear(16fs, 2048) is "embed" with embed_dim 2048). Inputs must be multiples of
/// p * 16 per axis (SwinUNETR's img_size check, finetune/swin_unetr.py:111-114).
class Swin3dImpl : public EncoderImpl {
 public:
  explicit Swin3dImpl(const config::EncoderConfig& shared = {}, const config::Swin3dConfig& options = {});
  EncoderOutput forward(const torch::Tensor& x) override;
  Shape size_divisor() const override { return divisor_; }
  Shape required_divisor() const override { return divisor_; }
  const config::Swin3dConfig& options() const { return options_; }

 private:
  torch::Tensor proj_out(const torch::Tensor& x) const;

  config::Swin3dConfig options_;
  Shape patch_, divisor_;
  Conv patch_embed_{nullptr};
  std::vector<SwinStage> stages_;
  ResidualBlock encoder10_{nullptr};
};
TORCH_MODULE(Swin3d);

}  // namespace gtgm::models
