#pragma once
/// Segmentation decoders over an encoder's skips: a UNet decoder for the conv encoders (resnet3d,
/// resunet, unet) and a UNETR decoder for vit3d. Both return one feature map per decoder level,
/// highest resolution (the input's) first, for the output head and deep supervision.
#include "gtgm/models/blocks.h"
#include "gtgm/models/encoder.h"

namespace gtgm::models {

/// Base of decoders. forward(x, enc) -> maps[0]: [B, output_channels()[0], *S] (input size),
/// maps[i]: [B, output_channels()[i], *S / output_strides()[i]].
class DecoderImpl : public torch::nn::Module {
 public:
  /// x: the encoder's input [B, C, *S] (UNETR uses it; UNet ignores it); enc: its output.
  virtual std::vector<torch::Tensor> forward(const torch::Tensor& x, const EncoderOutput& enc) = 0;
  const std::vector<int64_t>& output_channels() const { return out_channels_; }
  const std::vector<Shape>& output_strides() const { return out_strides_; }

 protected:
  std::vector<int64_t> out_channels_;
  std::vector<Shape> out_strides_;
};

/// Options of UNetDecoder.
struct UNetDecoderOptions {
  explicit UNetDecoderOptions(std::vector<FeatureInfo> features) : features_(std::move(features)) {}
  /// The encoder's feature_info() (highest resolution first).
  TORCH_ARG(std::vector<FeatureInfo>, features);
  /// Channels per skip level j = 0..F-2 (highest first); {} = min(skip channels, max_channels).
  TORCH_ARG(std::vector<int64_t>, channels) = {};
  TORCH_ARG(int64_t, max_channels) = 320;
  /// Transposed conv (true) or linear interpolation + 1^d conv (false).
  TORCH_ARG(bool, transposed) = true;
  TORCH_ARG(BlockSpec, block) = BlockSpec{};
};

/// UNet decoder: for level j from F-2 down to 0: up[j] (level j+1 -> j, factor = stride ratio),
/// concat skip j, blocks[j] (double conv -> channels[j]). When the highest skip is not at the
/// input's resolution (resnet3d: stride 1x2x2), final_up + final_block (channels[0] / 2, at least
/// 1) bring it there. Submodules "ups", "blocks"[, "final_up", "final_block"].
class UNetDecoderImpl : public DecoderImpl {
 public:
  explicit UNetDecoderImpl(const UNetDecoderOptions& options);
  std::vector<torch::Tensor> forward(const torch::Tensor& x, const EncoderOutput& enc) override;

 private:
  UNetDecoderOptions options_;
  std::vector<Upsample> ups_;
  std::vector<DoubleConv> blocks_;
  Upsample final_up_{nullptr};
  DoubleConv final_block_{nullptr};
};
TORCH_MODULE(UNetDecoder);

/// Options of UNETRDecoder.
struct UNETRDecoderOptions {
  TORCH_ARG(int, spatial_dims) = 3;
  TORCH_ARG(int64_t, in_channels) = 1;
  TORCH_ARG(int64_t, hidden_size) = 768;
  TORCH_ARG(Shape, patch_size) = Shape({16, 16, 16});
  /// Channels at full resolution; level j has feature_size * 2^j.
  TORCH_ARG(int64_t, feature_size) = 16;
  TORCH_ARG(BlockSpec, block) = BlockSpec{3, NormKind::Instance, 8, ActKind::LeakyReLU};
};

/// UNETR decoder (Hatamizadeh et al.) generalised to anisotropic power-of-two patches with
/// L = log2(max patch) levels; level j sits at stride min(2^j, patch) per axis.
/// encoder0: residual block on the image; skips.k (k = 1..L-1): token grid k -> (L-k) transposed
/// convs (+ residual blocks) up to level k; ups.j (j = L-1..0): transposed conv from level j+1,
/// concat, residual block. Expects enc.features = the L token grids of ViT3d.
class UNETRDecoderImpl : public DecoderImpl {
 public:
  explicit UNETRDecoderImpl(const UNETRDecoderOptions& options);
  std::vector<torch::Tensor> forward(const torch::Tensor& x, const EncoderOutput& enc) override;
  int64_t levels() const { return levels_; }

 private:
  UNETRDecoderOptions options_;
  int64_t levels_ = 0;
  ResidualBlock encoder0_{nullptr};
  std::vector<torch::nn::Sequential> skips_;
  std::vector<Conv> up_convs_;
  std::vector<ResidualBlock> up_blocks_;
};
TORCH_MODULE(UNETRDecoder);

}  // namespace gtgm::models
