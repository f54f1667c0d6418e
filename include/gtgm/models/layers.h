#pragma once
/// Dimension-agnostic building layers (one class serves 2D and 3D): convolution (plain and
/// transposed), normalisation (batch / instance / group), linear, activations and pooling helpers.
/// Parameter names match PyTorch's (`weight`, `bias`, `running_mean`, ...), so state dicts written
/// by Python models with the same module paths load unchanged. Conv and Linear report their
/// multiply-adds to models::count_flops (flops.h).
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gtgm/config/enum_names.h"
#include "gtgm/models/sync_batch_norm.h"

namespace gtgm::models {

/// Per-axis sizes (kernel, stride, patch): one entry per spatial axis, D/H/W order.
using Shape = std::vector<int64_t>;

/// Normalisation kinds of conv blocks.
enum class NormKind { Batch, Instance, Group, None };
/// Activation kinds of conv blocks.
enum class ActKind { ReLU, LeakyReLU, GELU, None };

}  // namespace gtgm::models

namespace gtgm::config {
template <>
struct EnumNames<models::NormKind> {
  static constexpr std::pair<models::NormKind, const char*> items[] = {{models::NormKind::Batch, "batch"},
                                                                       {models::NormKind::Instance, "instance"},
                                                                       {models::NormKind::Group, "group"},
                                                                       {models::NormKind::None, "none"}};
};
template <>
struct EnumNames<models::ActKind> {
  static constexpr std::pair<models::ActKind, const char*> items[] = {{models::ActKind::ReLU, "relu"},
                                                                      {models::ActKind::LeakyReLU, "leaky_relu"},
                                                                      {models::ActKind::GELU, "gelu"},
                                                                      {models::ActKind::None, "none"}};
};
}  // namespace gtgm::config

namespace gtgm::models {

/// "batch" | "instance" | "group" | "none" -> NormKind (throws naming the valid names).
NormKind parse_norm(const std::string& name);
/// "relu" | "leaky_relu" | "gelu" | "none" -> ActKind (throws naming the valid names).
ActKind parse_act(const std::string& name);
/// Applies `act` (leaky slope 0.01 as in nnU-Net; exact erf GELU).
torch::Tensor activate(const torch::Tensor& x, ActKind act);

/// Repeats a one-element shape to `dims` entries; checks the length otherwise (names `what`).
Shape expand_shape(const Shape& s, int dims, const char* what);

/// What every conv block needs to know besides its channel counts.
struct BlockSpec {
  int dims = 3;  ///< 2 or 3 spatial dims
  NormKind norm = NormKind::Batch;
  int64_t norm_groups = 8;
  ActKind act = ActKind::ReLU;
};

// ---- convolution ----------------------------------------------------------------------------
/// Options of Conv: kernel/stride/padding have one entry per axis (or one for all axes).
struct ConvOptions {
  ConvOptions(int dims, int64_t in_channels, int64_t out_channels, Shape kernel_size)
      : dims_(dims), in_channels_(in_channels), out_channels_(out_channels), kernel_size_(std::move(kernel_size)) {}
  TORCH_ARG(int, dims);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(Shape, kernel_size);
  /// {} = 1 on every axis.
  TORCH_ARG(Shape, stride) = {};
  /// {} = kernel/2 per axis ("same" for odd kernels at stride 1); transposed convs default to 0.
  TORCH_ARG(Shape, padding) = {};
  TORCH_ARG(bool, bias) = false;
  /// Transposed convolution (upsampling by `stride`); weight is [in, out, k...] as in PyTorch.
  TORCH_ARG(bool, transposed) = false;
};

/// 2D/3D (transposed) convolution. Input [B, in, *spatial] -> [B, out, *spatial'].
/// Weight init: Kaiming normal (fan_out, ReLU), bias 0.
class ConvImpl : public torch::nn::Module {
 public:
  explicit ConvImpl(const ConvOptions& options);
  /// x: [B, in_channels, (D,) H, W].
  torch::Tensor forward(const torch::Tensor& x);
  const ConvOptions& options() const { return options_; }

  torch::Tensor weight;
  torch::Tensor bias;  ///< undefined without bias

 private:
  ConvOptions options_;
};
TORCH_MODULE(Conv);

// ---- normalisation ----------------------------------------------------------------------------
/// Batch / instance / group normalisation over channel dim 1 of [B, C, ...] (any rank >= 2).
/// batch: running stats (momentum 0.1, PyTorch semantics incl. num_batches_tracked); in training
/// its statistics span every replica once set_cross_replica gave it replicas with world size > 1
/// (sync_batch_norm.h; same parameters and buffers either way);
/// instance: per-sample statistics, no running stats; group: `groups` must divide `channels`.
class NormImpl : public torch::nn::Module {
 public:
  NormImpl(NormKind kind, int64_t channels, int64_t groups = 8, bool affine = true, double eps = 1e-5,
           double momentum = 0.1);
  /// x: [B, C, ...] -> same shape.
  torch::Tensor forward(const torch::Tensor& x);
  NormKind kind() const { return kind_; }
  /// Batch kind: normalise over `replicas` in training (null or world size 1 = this process only);
  /// `name` (the module path) names the layer in errors. Ignored by the other kinds.
  void set_replicas(std::shared_ptr<const CrossReplica> replicas, std::string name);
  /// Whether training-mode statistics span several replicas.
  bool synchronised() const { return replicas_ != nullptr && replicas_->world_size > 1; }

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  NormKind kind_;
  int64_t channels_, groups_;
  double eps_, momentum_;
  std::shared_ptr<const CrossReplica> replicas_;
  std::string name_;
};
TORCH_MODULE(Norm);

/// Creates the normalisation of a block (Identity-like None kind when spec.norm is None).
Norm make_norm(const BlockSpec& spec, int64_t channels);

// ---- linear -------------------------------------------------------------------------------------
/// Fully connected layer over the last dim: [..., in] -> [..., out]. Init: PyTorch's default
/// (Kaiming uniform a=sqrt(5), bias U(+-1/sqrt(in))) or, with `init_std > 0`, N(0, init_std) and bias 0.
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true, double init_std = 0.0);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  torch::Tensor weight;  ///< [out, in]
  torch::Tensor bias;    ///< [out]

 private:
  int64_t in_, out_;
};
TORCH_MODULE(Linear);

// ---- composite -------------------------------------------------------------------------------
/// conv -> norm -> act. Submodules "conv", "norm".
class ConvNormActImpl : public torch::nn::Module {
 public:
  ConvNormActImpl(const BlockSpec& spec, int64_t in, int64_t out, Shape kernel, Shape stride = {});
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ActKind act_;
  Conv conv_{nullptr};
  Norm norm_{nullptr};
};
TORCH_MODULE(ConvNormAct);

// ---- functional helpers ------------------------------------------------------------------------
/// Max pooling with per-axis kernel/stride/padding over the spatial dims of [B, C, *spatial].
torch::Tensor max_pool(const torch::Tensor& x, int dims, const Shape& kernel, const Shape& stride,
                       const Shape& padding);
/// Mean over all spatial dims: [B, C, *spatial] -> [B, C].
torch::Tensor global_avg_pool(const torch::Tensor& x);
/// (Bi/tri)linear resize of [B, C, *spatial] to `size` (align_corners = false).
torch::Tensor resize_linear(const torch::Tensor& x, const Shape& size);

/// Puts every 5-D (4-D) parameter of `module` (conv weights) in channels-last-3d (channels-last)
/// memory order in place, for train.channels_last on CUDA; feed inputs converted the same way
/// (to_channels_last(x)). Results equal the contiguous layout up to float rounding.
void to_channels_last(torch::nn::Module& module);
/// x [B, C, D, H, W] -> channels-last-3d ([B, C, H, W] -> channels-last); other ranks unchanged.
torch::Tensor to_channels_last(const torch::Tensor& x);

}  // namespace gtgm::models
