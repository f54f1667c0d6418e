#include "gtgm/models/blocks.h"

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::models {

namespace {

bool is_unit(const Shape& s) {
  for (int64_t v : s) {
    if (v != 1) return false;
  }
  return true;
}

Shape ones(int dims) { return Shape(static_cast<size_t>(dims), 1); }

/// The 3D-ResNet "type B" shortcut: 1^d conv with stride + norm, as Sequential "0", "1".
torch::nn::Sequential make_downsample(const BlockSpec& spec, int64_t in, int64_t out, const Shape& stride) {
  torch::nn::Sequential seq;
  seq->push_back(Conv(ConvOptions(spec.dims, in, out, ones(spec.dims)).stride(stride)));
  seq->push_back(make_norm(spec, out));
  return seq;
}

}  // namespace

// ---- BasicBlock ----------------------------------------------------------------------------------
BasicBlockImpl::BasicBlockImpl(const BlockSpec& spec, int64_t in, int64_t planes, const Shape& stride)
    : act_(spec.act) {
  const Shape k3(static_cast<size_t>(spec.dims), 3);
  conv1_ = register_module("conv1", Conv(ConvOptions(spec.dims, in, planes, k3).stride(stride)));
  bn1_ = register_module("bn1", make_norm(spec, planes));
  conv2_ = register_module("conv2", Conv(ConvOptions(spec.dims, planes, planes, k3)));
  bn2_ = register_module("bn2", make_norm(spec, planes));
  if (!is_unit(stride) || in != planes * kExpansion) {
    downsample_ = register_module("downsample", make_downsample(spec, in, planes * kExpansion, stride));
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  auto y = activate(bn1_->forward(conv1_->forward(x)), act_);
  y = bn2_->forward(conv2_->forward(y));
  return activate(y + (downsample_ ? downsample_->forward(x) : x), act_);
}

// ---- Bottleneck ----------------------------------------------------------------------------------
BottleneckImpl::BottleneckImpl(const BlockSpec& spec, int64_t in, int64_t planes, const Shape& stride)
    : act_(spec.act) {
  const Shape k1 = ones(spec.dims), k3(static_cast<size_t>(spec.dims), 3);
  conv1_ = register_module("conv1", Conv(ConvOptions(spec.dims, in, planes, k1)));
  bn1_ = register_module("bn1", make_norm(spec, planes));
  conv2_ = register_module("conv2", Conv(ConvOptions(spec.dims, planes, planes, k3).stride(stride)));
  bn2_ = register_module("bn2", make_norm(spec, planes));
  conv3_ = register_module("conv3", Conv(ConvOptions(spec.dims, planes, planes * kExpansion, k1)));
  bn3_ = register_module("bn3", make_norm(spec, planes * kExpansion));
  if (!is_unit(stride) || in != planes * kExpansion) {
    downsample_ = register_module("downsample", make_downsample(spec, in, planes * kExpansion, stride));
  }
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  auto y = activate(bn1_->forward(conv1_->forward(x)), act_);
  y = activate(bn2_->forward(conv2_->forward(y)), act_);
  y = bn3_->forward(conv3_->forward(y));
  return activate(y + (downsample_ ? downsample_->forward(x) : x), act_);
}

// ---- ResidualBlock -------------------------------------------------------------------------------
ResidualBlockImpl::ResidualBlockImpl(const BlockSpec& spec, int64_t in, int64_t out, const Shape& kernel,
                                     const Shape& stride)
    : act_(spec.act) {
  conv1_ = register_module("conv1", Conv(ConvOptions(spec.dims, in, out, kernel).stride(stride)));
  norm1_ = register_module("norm1", make_norm(spec, out));
  conv2_ = register_module("conv2", Conv(ConvOptions(spec.dims, out, out, kernel)));
  norm2_ = register_module("norm2", make_norm(spec, out));
  if (!is_unit(expand_shape(stride.empty() ? Shape{1} : stride, spec.dims, "stride")) || in != out) {
    skip_ = register_module("skip", Conv(ConvOptions(spec.dims, in, out, ones(spec.dims)).stride(stride)));
    skip_norm_ = register_module("skip_norm", make_norm(spec, out));
  }
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  auto y = activate(norm1_->forward(conv1_->forward(x)), act_);
  y = norm2_->forward(conv2_->forward(y));
  return activate(y + (skip_ ? skip_norm_->forward(skip_->forward(x)) : x), act_);
}

// ---- DoubleConv ----------------------------------------------------------------------------------
DoubleConvImpl::DoubleConvImpl(const BlockSpec& spec, int64_t in, int64_t out, const Shape& kernel,
                               const Shape& stride)
    : act_(spec.act) {
  conv1_ = register_module("conv1", Conv(ConvOptions(spec.dims, in, out, kernel).stride(stride)));
  norm1_ = register_module("norm1", make_norm(spec, out));
  conv2_ = register_module("conv2", Conv(ConvOptions(spec.dims, out, out, kernel)));
  norm2_ = register_module("norm2", make_norm(spec, out));
}

torch::Tensor DoubleConvImpl::forward(const torch::Tensor& x) {
  auto y = activate(norm1_->forward(conv1_->forward(x)), act_);
  return activate(norm2_->forward(conv2_->forward(y)), act_);
}

// ---- Upsample ------------------------------------------------------------------------------------
UpsampleImpl::UpsampleImpl(int dims, int64_t in, int64_t out, const Shape& factor, bool transposed)
    : factor_(expand_shape(factor, dims, "upsample factor")), transposed_(transposed && !is_unit(factor_)) {
  if (transposed_) {
    conv_ = register_module("conv",
                            Conv(ConvOptions(dims, in, out, factor_).stride(factor_).bias(true).transposed(true)));
  } else {
    conv_ = register_module("conv", Conv(ConvOptions(dims, in, out, ones(dims)).bias(true)));
  }
}

torch::Tensor UpsampleImpl::forward(const torch::Tensor& x, const Shape& target) {
  const int dims = static_cast<int>(factor_.size());
  GTGM_CHECK(x.dim() == dims + 2, "Upsample expects [B, C, {} spatial dims], got {}", dims, core::shape_str(x.sizes()));
  Shape expected;
  for (int a = 0; a < dims; ++a) expected.push_back(x.size(a + 2) * factor_[static_cast<size_t>(a)]);
  if (!target.empty()) {
    GTGM_CHECK(target == expected, "Upsample: input {} times factor {} gives {}, but the skip connection is {}",
               core::shape_str(x.sizes()), core::shape_str(factor_), core::shape_str(expected),
               core::shape_str(target));
  }
  if (transposed_) return conv_->forward(x);  // [B, out, S*factor]
  // The 1^d conv and linear interpolation commute (both linear, constants preserved); converting
  // channels first is cheaper because the decoder narrows channels as it upsamples.
  auto y = conv_->forward(x);
  return is_unit(factor_) ? y : resize_linear(y, expected);
}

}  // namespace gtgm::models
