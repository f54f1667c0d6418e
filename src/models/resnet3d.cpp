#include "gtgm/models/resnet3d.h"

#include <fmt/format.h>

#include "gtgm/core/error.h"
#include "gtgm/models/blocks.h"

namespace gtgm::models {

std::vector<int64_t> resnet_layers(int depth) {
  switch (depth) {
    case 10: return {1, 1, 1, 1};
    case 18: return {2, 2, 2, 2};
    case 34: return {3, 4, 6, 3};
    case 50: return {3, 4, 6, 3};
    case 101: return {3, 4, 23, 3};
    case 152: return {3, 8, 36, 3};
    default: break;
  }
  throw ConfigError(fmt::format("resnet3d depth {} is not supported; valid: 10, 18, 34, 50, 101, 152", depth));
}

ResNet3dImpl::ResNet3dImpl(const config::EncoderConfig& shared, const config::ResNet3dConfig& o)
    : EncoderImpl("resnet3d", shared.spatial_dims, shared.in_channels), options_(o) {
  const int d = shared.spatial_dims;
  GTGM_CHECK(d == 2 || d == 3, "resnet3d: spatial_dims must be 2 or 3, got {}", d);
  const auto counts = resnet_layers(o.depth);
  const bool bottleneck = o.depth >= 50;
  const int64_t expansion = bottleneck ? BottleneckImpl::kExpansion : BasicBlockImpl::kExpansion;
  const BlockSpec spec = block_spec(shared);
  act_ = spec.act;
  const int64_t base = shared.base_channels;
  const Shape kernel = expand_shape(to_shape(o.stem_kernel), d, "model.stem_kernel");
  const Shape stride = expand_shape(to_shape(o.stem_stride), d, "model.stem_stride");
  Shape pad;
  for (int64_t k : kernel) pad.push_back(k / 2);

  conv1_ = register_module("conv1", Conv(ConvOptions(d, shared.in_channels, base, kernel).stride(stride).padding(pad)));
  bn1_ = register_module("bn1", make_norm(spec, base));
  Shape cum = stride;
  features_.push_back({base, cum});
  if (o.stem_pool) {
    pool_stride_ = expand_shape(to_shape(o.stem_pool_stride), d, "model.stem_pool_stride");
    for (size_t a = 0; a < cum.size(); ++a) cum[a] *= pool_stride_[a];
  }

  int64_t in = base;
  for (int i = 0; i < 4; ++i) {
    const int64_t planes = base << i;
    const Shape layer_stride(static_cast<size_t>(d), i == 0 ? 1 : 2);
    torch::nn::Sequential layer;
    for (int64_t b = 0; b < counts[static_cast<size_t>(i)]; ++b) {
      const Shape s = b == 0 ? layer_stride : Shape(static_cast<size_t>(d), 1);
      if (bottleneck) {
        layer->push_back(Bottleneck(spec, in, planes, s));
      } else {
        layer->push_back(BasicBlock(spec, in, planes, s));
      }
      in = planes * expansion;
    }
    layers_.push_back(register_module(fmt::format("layer{}", i + 1), layer));
    for (size_t a = 0; a < cum.size(); ++a) cum[a] *= layer_stride[a];
    features_.push_back({in, cum});
  }
  init_embedding(in, shared.embed_dim);
}

EncoderOutput ResNet3dImpl::forward(const torch::Tensor& x) {
  const int d = spatial_dims();
  check_input(x, required_divisor(), "resnet3d");
  EncoderOutput out;
  auto y = activate(bn1_->forward(conv1_->forward(x)), act_);  // [B, base, S / stem_stride]
  out.features.push_back(y);
  if (options_.stem_pool) {
    y = max_pool(y, d, Shape(static_cast<size_t>(d), 3), pool_stride_, Shape(static_cast<size_t>(d), 1));
  }
  for (auto& layer : layers_) {
    y = layer->forward(y);  // [B, C_i, S / stride_i]
    out.features.push_back(y);
  }
  out.pooled = embed(global_avg_pool(y));  // [B, embed_dim]
  return out;
}

}  // namespace gtgm::models
