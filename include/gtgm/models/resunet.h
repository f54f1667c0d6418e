#pragma once
/// Residual / plain UNet encoder (nnU-Net style): a stem conv, then `stages` stages; stage i starts
/// with a conv of stride strides[i] (anisotropic allowed, e.g. 1x2x2 for EM) and holds blocks[i]
/// double-conv blocks (residual for "resunet", plain for "unet"). Returns every stage output as a
/// skip.
#include "gtgm/models/encoder.h"

namespace gtgm::models {

/// Options of ResUNetEncoder. All per-stage lists have `channels.size()` entries.
struct ResUNetEncoderOptions {
  TORCH_ARG(int, spatial_dims) = 3;
  TORCH_ARG(int64_t, in_channels) = 1;
  TORCH_ARG(std::vector<int64_t>, channels) = std::vector<int64_t>({32, 64, 128, 256, 320});
  /// Per stage, per axis; {} = 1 for stage 0 then 2.
  TORCH_ARG(std::vector<Shape>, strides) = {};
  /// Per stage, per axis (odd); {} = 3.
  TORCH_ARG(std::vector<Shape>, kernels) = {};
  /// Double-conv blocks per stage; {} = 1.
  TORCH_ARG(std::vector<int64_t>, blocks) = {};
  /// Residual blocks ("resunet") or plain double convs ("unet").
  TORCH_ARG(bool, residual) = true;
  TORCH_ARG(NormKind, norm) = NormKind::Instance;
  TORCH_ARG(int64_t, norm_groups) = 8;
  TORCH_ARG(ActKind, act) = ActKind::LeakyReLU;
  /// Pooled width; 0 = channels of the last stage.
  TORCH_ARG(int64_t, embed_dim) = 0;
};

/// Submodules: "stem" (conv-norm-act, in -> channels[0]), "stages.i.j" (block j of stage i).
/// features[i]: [B, channels[i], ceil(S / prod(strides[0..i]))]; pooled: mean of the last stage.
class ResUNetEncoderImpl : public EncoderImpl {
 public:
  explicit ResUNetEncoderImpl(const ResUNetEncoderOptions& options = {});
  EncoderOutput forward(const torch::Tensor& x) override;
  const ResUNetEncoderOptions& options() const { return options_; }

 private:
  ResUNetEncoderOptions options_;
  ConvNormAct stem_{nullptr};
  std::vector<torch::nn::Sequential> stages_;
};
TORCH_MODULE(ResUNetEncoder);

}  // namespace gtgm::models
