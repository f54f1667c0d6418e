#pragma once
/// Residual / plain UNet encoder (nnU-Net style): a stem conv, then `stages` stages; stage i starts
/// with a conv of stride strides[i] (anisotropic allowed, e.g. 1x2x2 for EM) and holds blocks[i]
/// double-conv blocks (residual for "resunet", plain for "unet"). Returns every stage output as a
/// skip.
#include "gtgm/models/encoder.h"

namespace gtgm::models {

/// Submodules: "stem" (conv-norm-act, in -> channels[0]), "stages.i.j" (block j of stage i).
/// features[i]: [B, channels[i], ceil(S / prod(strides[0..i]))]; pooled: mean of the last stage.
/// Options: `options` holds the stage keys (stages, channels, strides, kernels, blocks; resolved
/// by config::resolve_stage_plan, which throws naming the key), `shared` the keys every encoder
/// reads (channels default to base_channels * 2^i capped at max_channels; embed_dim 0 = channels
/// of the last stage). `residual`: residual blocks ("resunet") or plain double convs ("unet").
class ResUNetEncoderImpl : public EncoderImpl {
 public:
  explicit ResUNetEncoderImpl(const config::EncoderConfig& shared = {}, const config::UNetEncoderConfig& options = {},
                              bool residual = true);
  EncoderOutput forward(const torch::Tensor& x) override;
  const config::UNetEncoderConfig& options() const { return options_; }
  /// The per-stage settings with the [] defaults filled in.
  const config::StagePlan& plan() const { return plan_; }

 private:
  config::UNetEncoderConfig options_;
  config::StagePlan plan_;
  ConvNormAct stem_{nullptr};
  std::vector<torch::nn::Sequential> stages_;
};
TORCH_MODULE(ResUNetEncoder);

}  // namespace gtgm::models
