#pragma once
/// SwinUNETR's decoder (Hatamizadeh et al.; MONAI SwinUNETR as in the GTGM reference code's
/// finetune/swin_unetr.py:148-247, 327-359) over the swin3d encoder's features.
#include "gtgm/models/decoders.h"

namespace gtgm::models {

/// Options of SwinUNETRDecoder.
struct SwinUNETRDecoderOptions {
  TORCH_ARG(int64_t, in_channels) = 1;
  /// The encoder's swin_feature_size fs (channels at full resolution).
  TORCH_ARG(int64_t, feature_size) = 48;
  /// The encoder's patch size: decoder1 upsamples by it (2 in the reference).
  TORCH_ARG(Shape, patch_size) = Shape({2, 2, 2});
  /// Residual blocks: MONAI UnetResBlock with norm "instance", leaky ReLU 0.01, convs without bias.
  TORCH_ARG(BlockSpec, block) = BlockSpec{3, NormKind::Instance, 8, ActKind::LeakyReLU};
};

/// MONAI UnetrUpBlock: transp_conv (kernel = stride = factor, no bias), concat the skip, conv_block
/// (residual block 2C -> C). Submodules "transp_conv", "conv_block".
class SwinUpBlockImpl : public torch::nn::Module {
 public:
  SwinUpBlockImpl(const BlockSpec& spec, int64_t in, int64_t out, const Shape& factor);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& skip);

 private:
  Conv transp_conv_{nullptr};
  ResidualBlock conv_block_{nullptr};
};
TORCH_MODULE(SwinUpBlock);

/// encoder1 (image -> fs), encoder2 (features[0]), encoder3 (features[1]), encoder4 (features[2]):
/// residual blocks keeping their channels; decoder5 (features[4] = encoder10's output, 16fs -> 8fs,
/// skip features[3]), decoder4 (8fs -> 4fs, skip encoder4), decoder3 (-> 2fs, encoder3), decoder2
/// (-> fs, encoder2), decoder1 (fs -> fs by the patch factor, encoder1). Outputs, highest resolution
/// first: decoder1 [B, fs, *S], decoder2 [fs, S/p], decoder3 [2fs, S/2p], decoder4 [4fs, S/4p],
/// decoder5 [8fs, S/8p]. The reference's `out` conv is SegmentationHead's "out"; its sigmoid is not
/// applied (logits).
class SwinUNETRDecoderImpl : public DecoderImpl {
 public:
  explicit SwinUNETRDecoderImpl(const SwinUNETRDecoderOptions& options);
  std::vector<torch::Tensor> forward(const torch::Tensor& x, const EncoderOutput& enc) override;

 private:
  SwinUNETRDecoderOptions options_;
  std::vector<ResidualBlock> encoders_;  ///< encoder1..encoder4
  std::vector<SwinUpBlock> decoders_;    ///< decoder1..decoder5
};
TORCH_MODULE(SwinUNETRDecoder);

}  // namespace gtgm::models
