#include "gtgm/models/layers.h"

#include <fmt/format.h>

#include <cmath>
#include <numeric>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"
#include "gtgm/models/flops.h"

namespace gtgm::models {

NormKind parse_norm(const std::string& name) {
  if (const auto kind = config::parse_enum<NormKind>(name)) return *kind;
  throw ConfigError(fmt::format("unknown norm '{}'; valid: batch, instance, group, none", name));
}

ActKind parse_act(const std::string& name) {
  if (const auto kind = config::parse_enum<ActKind>(name)) return *kind;
  throw ConfigError(fmt::format("unknown activation '{}'; valid: relu, leaky_relu, gelu, none", name));
}

torch::Tensor activate(const torch::Tensor& x, ActKind act) {
  switch (act) {
    case ActKind::ReLU:
      return torch::relu(x);
    case ActKind::LeakyReLU:
      return torch::leaky_relu(x, 0.01);
    case ActKind::GELU:
      return torch::gelu(x);
    case ActKind::None:
      return x;
  }
  return x;
}

Shape expand_shape(const Shape& s, int dims, const char* what) {
  if (s.size() == 1) return Shape(static_cast<size_t>(dims), s.front());
  GTGM_CHECK(static_cast<int>(s.size()) == dims, "{} has {} entries {} but the layer has {} spatial dims", what,
             s.size(), core::shape_str(s), dims);
  return s;
}

// ---- Conv -----------------------------------------------------------------------------------------
namespace {

// A transposed conv whose kernel equals its stride (no padding) writes each input voxel into its own
// k-voxel block: it is a 1x1(x1) conv to out * k channels followed by a pixel shuffle. LibTorch
// 1.13 runs the transposed conv on the CPU as per-sample im2col + OpenBLAS gemm (whose threads
// also fight the OpenMP pool); the 1x1 conv runs in oneDNN, 3x faster for a decoder's large
// levels. Same sums over the input channels: equal to conv_transpose to float rounding (~1e-7).
bool block_transposed(const ConvOptions& o, const torch::Tensor& x) {
  if (!o.transposed() || !x.device().is_cpu() || torch::GradMode::is_enabled()) return false;
  for (size_t a = 0; a < o.kernel_size().size(); ++a)
    if (o.kernel_size()[a] != o.stride()[a] || o.padding()[a] != 0) return false;
  return true;
}

torch::Tensor conv_transpose_by_blocks(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                       const Shape& k) {
  const int64_t d = static_cast<int64_t>(k.size());
  const int64_t out = weight.size(1);
  const int64_t kk = std::accumulate(k.begin(), k.end(), int64_t{1}, std::multiplies<>());
  // weight [in, out, k...] -> [out * k, in, 1...]: output channel (o, i, j[, l]) in that order.
  std::vector<int64_t> perm{1};
  for (int64_t a = 0; a < d; ++a) perm.push_back(2 + a);
  perm.push_back(0);
  std::vector<int64_t> wshape{out * kk, weight.size(0)};
  wshape.insert(wshape.end(), static_cast<size_t>(d), 1);
  const torch::Tensor w = weight.permute(perm).reshape(wshape);
  const torch::Tensor b = bias.defined() ? bias.repeat_interleave(kk) : torch::Tensor();
  const torch::Tensor y = d == 3 ? torch::conv3d(x, w, b) : torch::conv2d(x, w, b);
  // [B, out, k0, k1(, k2), s0, s1(, s2)] -> [B, out, s0, k0, s1, k1(, s2, k2)] -> [B, out, s0*k0, ...]
  std::vector<int64_t> split{x.size(0), out};
  split.insert(split.end(), k.begin(), k.end());
  for (int64_t a = 0; a < d; ++a) split.push_back(x.size(2 + a));
  std::vector<int64_t> order{0, 1}, shape{x.size(0), out};
  for (int64_t a = 0; a < d; ++a) {
    order.push_back(2 + d + a);
    order.push_back(2 + a);
    shape.push_back(x.size(2 + a) * k[static_cast<size_t>(a)]);
  }
  return y.reshape(split).permute(order).reshape(shape);
}

}  // namespace

ConvImpl::ConvImpl(const ConvOptions& o) : options_(o) {
  const int d = o.dims();
  GTGM_CHECK(d == 2 || d == 3, "Conv: spatial dims must be 2 or 3, got {}", d);
  GTGM_CHECK(o.in_channels() > 0 && o.out_channels() > 0, "Conv: channel counts must be positive, got {} -> {}",
             o.in_channels(), o.out_channels());
  options_.kernel_size(expand_shape(o.kernel_size(), d, "Conv kernel_size"));
  options_.stride(o.stride().empty() ? Shape(static_cast<size_t>(d), 1) : expand_shape(o.stride(), d, "Conv stride"));
  if (o.padding().empty()) {
    Shape pad;
    for (int64_t k : options_.kernel_size()) pad.push_back(o.transposed() ? 0 : k / 2);
    options_.padding(pad);
  } else {
    options_.padding(expand_shape(o.padding(), d, "Conv padding"));
  }
  std::vector<int64_t> wshape = o.transposed() ? std::vector<int64_t>{o.in_channels(), o.out_channels()}
                                               : std::vector<int64_t>{o.out_channels(), o.in_channels()};
  for (int64_t k : options_.kernel_size()) wshape.push_back(k);
  weight = register_parameter("weight", torch::empty(wshape));
  {
    torch::NoGradGuard ng;
    // Kaiming normal, fan_out, ReLU gain (torchvision/3D-ResNet init). For transposed convs the
    // "fan_out" of the equivalent forward conv is in_channels * prod(k).
    const int64_t k =
        std::accumulate(options_.kernel_size().begin(), options_.kernel_size().end(), int64_t{1}, std::multiplies<>());
    const double fan_out = static_cast<double>((o.transposed() ? o.in_channels() : o.out_channels()) * k);
    weight.normal_(0.0, std::sqrt(2.0 / fan_out));
  }
  if (o.bias()) bias = register_parameter("bias", torch::zeros({o.out_channels()}));
}

torch::Tensor ConvImpl::forward(const torch::Tensor& x) {
  const auto& o = options_;
  GTGM_CHECK(x.dim() == o.dims() + 2 && x.size(1) == o.in_channels(), "Conv expects input [B, {}, {}] ({}D), got {}",
             o.in_channels(), o.dims() == 3 ? "D, H, W" : "H, W", o.dims(), core::shape_str(x.sizes()));
  torch::Tensor y;
  if (block_transposed(o, x)) {
    y = conv_transpose_by_blocks(x, weight, bias, o.kernel_size());
  } else if (o.transposed()) {
    y = o.dims() == 3 ? torch::conv_transpose3d(x, weight, bias, o.stride(), o.padding())
                      : torch::conv_transpose2d(x, weight, bias, o.stride(), o.padding());
  } else {
    y = o.dims() == 3 ? torch::conv3d(x, weight, bias, o.stride(), o.padding())
                      : torch::conv2d(x, weight, bias, o.stride(), o.padding());
  }
  if (detail::flops_active()) {
    const int64_t k = std::accumulate(o.kernel_size().begin(), o.kernel_size().end(), int64_t{1}, std::multiplies<>());
    // Each output element of a conv costs in*k MACs; each input element of a transposed conv
    // is scattered into out*k outputs.
    if (o.transposed()) {
      detail::add_flops("conv_transpose", 2 * x.numel() * o.out_channels() * k);
    } else {
      detail::add_flops("conv", 2 * y.numel() * o.in_channels() * k);
    }
  }
  return y;
}

// ---- Norm -----------------------------------------------------------------------------------------
NormImpl::NormImpl(NormKind kind, int64_t channels, int64_t groups, bool affine, double eps, double momentum)
    : kind_(kind), channels_(channels), groups_(groups), eps_(eps), momentum_(momentum) {
  if (kind == NormKind::None) return;
  if (kind == NormKind::Group) {
    GTGM_CHECK(groups > 0 && channels % groups == 0,
               "group norm: {} groups do not divide {} channels (set model.norm_groups to a divisor)", groups,
               channels);
  }
  if (affine) {
    weight = register_parameter("weight", torch::ones({channels}));
    bias = register_parameter("bias", torch::zeros({channels}));
  }
  if (kind == NormKind::Batch) {
    running_mean = register_buffer("running_mean", torch::zeros({channels}));
    running_var = register_buffer("running_var", torch::ones({channels}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  }
}

torch::Tensor NormImpl::forward(const torch::Tensor& x) {
  if (kind_ == NormKind::None) return x;
  GTGM_CHECK(x.dim() >= 2 && x.size(1) == channels_, "{} norm expects [B, {}, ...], got {}",
             kind_ == NormKind::Batch   ? "batch"
             : kind_ == NormKind::Group ? "group"
                                        : "instance",
             channels_, core::shape_str(x.sizes()));
  const bool cudnn = at::globalContext().userEnabledCuDNN();
  switch (kind_) {
    case NormKind::Batch: {
      const bool training = is_training();
      if (training) {
        torch::NoGradGuard ng;
        num_batches_tracked.add_(1);
      }
      if (training && synchronised()) {
        return sync_batch_norm(x, weight, bias, running_mean, running_var, momentum_, eps_, replicas_, name_);
      }
      return torch::batch_norm(x, weight, bias, running_mean, running_var, training, momentum_, eps_, cudnn);
    }
    case NormKind::Instance:
      return torch::instance_norm(x, weight, bias, {}, {}, true, momentum_, eps_, cudnn);
    case NormKind::Group:
      return torch::group_norm(x, groups_, weight, bias, eps_, cudnn);
    case NormKind::None:
      break;
  }
  return x;
}

void NormImpl::set_replicas(std::shared_ptr<const CrossReplica> replicas, std::string name) {
  replicas_ = std::move(replicas);
  name_ = std::move(name);
}

Norm make_norm(const BlockSpec& spec, int64_t channels) { return Norm(spec.norm, channels, spec.norm_groups); }

// ---- Linear ---------------------------------------------------------------------------------------
LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias, double init_std)
    : in_(in_features), out_(out_features) {
  GTGM_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got {} -> {}", in_features,
             out_features);
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", torch::empty({out_features}));
  torch::NoGradGuard ng;
  if (init_std > 0) {
    weight.normal_(0.0, init_std);
    if (with_bias) bias.zero_();
  } else {
    // PyTorch nn.Linear default: kaiming_uniform(a=sqrt(5)) == U(+-1/sqrt(in)) for weight and bias.
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    weight.uniform_(-bound, bound);
    if (with_bias) bias.uniform_(-bound, bound);
  }
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  GTGM_CHECK(x.dim() >= 1 && x.size(-1) == in_, "Linear expects [..., {}], got {}", in_, core::shape_str(x.sizes()));
  if (detail::flops_active()) detail::add_flops("linear", 2 * (x.numel() / in_) * in_ * out_);
  return torch::nn::functional::linear(x, weight, bias);
}

// ---- ConvNormAct ---------------------------------------------------------------------------------
ConvNormActImpl::ConvNormActImpl(const BlockSpec& spec, int64_t in, int64_t out, Shape kernel, Shape stride)
    : act_(spec.act) {
  conv_ = register_module("conv", Conv(ConvOptions(spec.dims, in, out, std::move(kernel)).stride(std::move(stride))));
  norm_ = register_module("norm", make_norm(spec, out));
}

torch::Tensor ConvNormActImpl::forward(const torch::Tensor& x) {
  return activate(norm_->forward(conv_->forward(x)), act_);
}

// ---- functional --------------------------------------------------------------------------------------
torch::Tensor max_pool(const torch::Tensor& x, int dims, const Shape& kernel, const Shape& stride,
                       const Shape& padding) {
  return dims == 3 ? torch::max_pool3d(x, kernel, stride, padding) : torch::max_pool2d(x, kernel, stride, padding);
}

torch::Tensor global_avg_pool(const torch::Tensor& x) {
  GTGM_CHECK(x.dim() >= 3, "global_avg_pool expects [B, C, *spatial], got {}", core::shape_str(x.sizes()));
  std::vector<int64_t> axes;
  for (int64_t a = 2; a < x.dim(); ++a) axes.push_back(a);
  return x.mean(axes);
}

torch::Tensor resize_linear(const torch::Tensor& x, const Shape& size) {
  namespace F = torch::nn::functional;
  GTGM_CHECK(x.dim() == static_cast<int64_t>(size.size()) + 2, "resize_linear: input {} vs target size {}",
             core::shape_str(x.sizes()), core::shape_str(size));
  auto opts = F::InterpolateFuncOptions().size(size).align_corners(false);
  opts = size.size() == 3 ? opts.mode(torch::kTrilinear) : opts.mode(torch::kBilinear);
  return F::interpolate(x, opts);
}

torch::Tensor to_channels_last(const torch::Tensor& x) {
  if (x.dim() == 5) return x.contiguous(at::MemoryFormat::ChannelsLast3d);
  if (x.dim() == 4) return x.contiguous(at::MemoryFormat::ChannelsLast);
  return x;
}

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard ng;
  for (auto& p : module.parameters(true)) {
    if (p.dim() == 4 || p.dim() == 5) p.set_data(to_channels_last(p.detach()));
  }
}

}  // namespace gtgm::models
