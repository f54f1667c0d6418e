#pragma once
/// Vision transformer for 2D/3D volumes (UNETR's encoder): non-overlapping patch embedding with
/// per-axis (anisotropic) patch sizes, learnable or fixed sin-cos position embeddings, pre-norm
/// transformer blocks. Module paths follow timm (patch_embed, pos_embed, blocks.i.norm1,
/// blocks.i.attn.qkv, blocks.i.attn.proj, blocks.i.norm2, blocks.i.mlp.fc1/fc2, norm).
#include "gtgm/models/encoder.h"

namespace gtgm::models {

/// Multi-head self-attention: qkv Linear (hidden -> 3 hidden), softmax(q k^T / sqrt(d)) v, proj.
/// [B, N, hidden] -> [B, N, hidden].
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t hidden, int64_t heads, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t heads_;
  double dropout_;
  Linear qkv_{nullptr}, proj_{nullptr};
};
TORCH_MODULE(SelfAttention);

/// Pre-norm transformer block: x + attn(norm1(x)); x + mlp(norm2(x)) with a GELU MLP (fc1, fc2).
/// [B, N, hidden] -> same.
class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(int64_t hidden, int64_t heads, int64_t mlp_dim, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double dropout_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  SelfAttention attn_{nullptr};
  Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(TransformerBlock);

/// Fixed sin-cos position embedding of a patch grid: [prod(grid), hidden]; each axis takes
/// hidden / dims channels (half sin, half cos, frequencies 1 / 10000^(i / (hidden / 2 dims))).
/// hidden must be divisible by 2 * grid.size().
torch::Tensor sincos_position_embedding(const Shape& grid, int64_t hidden);

/// features: the token grids [B, hidden, *S / patch] after layers round(k * num_layers / L),
/// k = 1..L, L = max(1, ceil(log2(max patch))) (UNETR: layers 3, 6, 9, 12 for patch 16; the
/// last one after the final norm). pooled: mean over tokens after the final norm -> [B, embed_dim].
/// Inputs must be multiples of the patch size.
/// Options: `options` holds the vit3d keys (per-axis patch and input sizes; input_size is the size
/// the learnable position embeddings are made for, other patch-divisible sizes interpolate them
/// trilinearly on the patch grid), `shared` the keys every encoder reads (spatial_dims,
/// in_channels; embed_dim 0 = hidden_size).
class ViT3dImpl : public EncoderImpl {
 public:
  explicit ViT3dImpl(const config::EncoderConfig& shared = {}, const config::ViT3dConfig& options = {});
  EncoderOutput forward(const torch::Tensor& x) override;
  Shape size_divisor() const override { return patch_; }
  Shape required_divisor() const override { return patch_; }
  const config::ViT3dConfig& options() const { return options_; }
  /// Transformer layer (1-based) behind each feature.
  const std::vector<int64_t>& tap_layers() const { return taps_; }
  /// Position embeddings for a patch grid: [1, prod(grid), hidden].
  torch::Tensor position_embedding(const Shape& grid);

 private:
  config::ViT3dConfig options_;
  Shape patch_, input_size_;  ///< options_.patch_size / input_size with spatial_dims entries
  std::vector<int64_t> taps_;
  Conv patch_embed_{nullptr};
  torch::Tensor pos_embed_;  ///< learnable: [1, prod(input_size / patch), hidden]
  std::vector<TransformerBlock> blocks_;
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(ViT3d);

}  // namespace gtgm::models
