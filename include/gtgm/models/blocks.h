#pragma once
/// Residual and plain conv blocks shared by the encoders and decoders. Submodule names follow the
/// 3D-ResNet (Hara et al.) and nnU-Net conventions so checkpoints map one-to-one.
#include <torch/torch.h>

#include "gtgm/models/layers.h"

namespace gtgm::models {

/// ResNet basic block (ResNet-10/18/34): conv1 3^d (stride) -> bn1 -> act -> conv2 3^d -> bn2,
/// + shortcut (`downsample` = 1^d conv (stride) + norm when the shape changes) -> act.
/// [B, in, *S] -> [B, planes, *S/stride]. Submodules conv1, bn1, conv2, bn2[, downsample].
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(const BlockSpec& spec, int64_t in, int64_t planes, const Shape& stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ActKind act_;
  Conv conv1_{nullptr}, conv2_{nullptr};
  Norm bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(BasicBlock);

/// ResNet bottleneck (ResNet-50/101/152): conv1 1^d -> bn1 -> act -> conv2 3^d (stride) -> bn2 ->
/// act -> conv3 1^d (x4 channels) -> bn3, + shortcut -> act. [B, in, *S] -> [B, 4*planes, *S/stride].
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(const BlockSpec& spec, int64_t in, int64_t planes, const Shape& stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ActKind act_;
  Conv conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  Norm bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Bottleneck);

/// Residual double conv (nnU-Net ResEnc / UNETR "UnetResBlock"): conv1 k (stride) -> norm1 -> act
/// -> conv2 k -> norm2, + shortcut (skip 1^d conv (stride) + skip_norm when the shape changes) -> act.
/// [B, in, *S] -> [B, out, ceil(S/stride)].
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(const BlockSpec& spec, int64_t in, int64_t out, const Shape& kernel, const Shape& stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ActKind act_;
  Conv conv1_{nullptr}, conv2_{nullptr}, skip_{nullptr};
  Norm norm1_{nullptr}, norm2_{nullptr}, skip_norm_{nullptr};
};
TORCH_MODULE(ResidualBlock);

/// Plain double conv (UNet): conv1 k (stride) -> norm1 -> act -> conv2 k -> norm2 -> act.
/// [B, in, *S] -> [B, out, ceil(S/stride)].
class DoubleConvImpl : public torch::nn::Module {
 public:
  DoubleConvImpl(const BlockSpec& spec, int64_t in, int64_t out, const Shape& kernel, const Shape& stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ActKind act_;
  Conv conv1_{nullptr}, conv2_{nullptr};
  Norm norm1_{nullptr}, norm2_{nullptr};
};
TORCH_MODULE(DoubleConv);

/// Upsampling by an integer factor per axis with a channel change: "transposed" (conv transpose,
/// kernel = stride = factor, bias) or "interpolate" ((bi/tri)linear to the target size, then a
/// 1^d conv with bias). Submodule "conv" either way. A factor of 1 on every axis is a 1^d conv.
class UpsampleImpl : public torch::nn::Module {
 public:
  UpsampleImpl(int dims, int64_t in, int64_t out, const Shape& factor, bool transposed);
  /// x: [B, in, *S] -> [B, out, *target]; `target` = S * factor (required for interpolate; for
  /// transposed it is checked when given).
  torch::Tensor forward(const torch::Tensor& x, const Shape& target = {});
  const Shape& factor() const { return factor_; }

 private:
  Shape factor_;
  bool transposed_;
  Conv conv_{nullptr};
};
TORCH_MODULE(Upsample);

}  // namespace gtgm::models
