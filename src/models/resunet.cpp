#include "gtgm/models/resunet.h"

#include <fmt/format.h>

#include "gtgm/core/error.h"
#include "gtgm/models/blocks.h"

namespace gtgm::models {

ResUNetEncoderImpl::ResUNetEncoderImpl(const ResUNetEncoderOptions& o)
    : EncoderImpl(o.residual() ? "resunet" : "unet", o.spatial_dims(), o.in_channels()), options_(o) {
  const int d = o.spatial_dims();
  GTGM_CHECK(d == 2 || d == 3, "{}: spatial_dims must be 2 or 3, got {}", type(), d);
  const size_t n = o.channels().size();
  GTGM_CHECK(n >= 1, "{}: needs at least one stage (channels is empty)", type());
  auto check_len = [&](size_t len, const char* what) {
    GTGM_CHECK(len == 0 || len == n, "{}: {} has {} entries for {} stages", type(), what, len, n);
  };
  check_len(o.strides().size(), "strides");
  check_len(o.kernels().size(), "kernels");
  check_len(o.blocks().size(), "blocks");
  const BlockSpec spec{d, o.norm(), o.norm_groups(), o.act()};

  const Shape k0 = o.kernels().empty() ? Shape{3} : o.kernels()[0];
  stem_ = register_module("stem", ConvNormAct(spec, o.in_channels(), o.channels()[0], expand_shape(k0, d, "kernel")));
  torch::nn::ModuleList list;
  Shape cum(static_cast<size_t>(d), 1);
  int64_t in = o.channels()[0];
  for (size_t i = 0; i < n; ++i) {
    const Shape stride =
        expand_shape(o.strides().empty() ? Shape{i == 0 ? 1 : 2} : o.strides()[i], d, "model.strides entry");
    const Shape kernel = expand_shape(o.kernels().empty() ? Shape{3} : o.kernels()[i], d, "model.kernels entry");
    const int64_t blocks = o.blocks().empty() ? 1 : o.blocks()[i];
    GTGM_CHECK(blocks >= 1, "{}: stage {} needs at least one block, got {}", type(), i, blocks);
    const int64_t out = o.channels()[i];
    torch::nn::Sequential stage;
    for (int64_t b = 0; b < blocks; ++b) {
      const Shape s = b == 0 ? stride : Shape(static_cast<size_t>(d), 1);
      if (o.residual()) {
        stage->push_back(ResidualBlock(spec, b == 0 ? in : out, out, kernel, s));
      } else {
        stage->push_back(DoubleConv(spec, b == 0 ? in : out, out, kernel, s));
      }
    }
    list->push_back(stage);
    stages_.push_back(stage);
    for (size_t a = 0; a < cum.size(); ++a) cum[a] *= stride[a];
    features_.push_back({out, cum});
    in = out;
  }
  register_module("stages", list);
  init_embedding(in, o.embed_dim());
}

EncoderOutput ResUNetEncoderImpl::forward(const torch::Tensor& x) {
  check_input(x, required_divisor(), type());
  EncoderOutput out;
  auto y = stem_->forward(x);  // [B, channels[0], S]
  for (auto& stage : stages_) {
    y = stage->forward(y);  // [B, channels[i], S / stride_i]
    out.features.push_back(y);
  }
  out.pooled = embed(global_avg_pool(y));  // [B, embed_dim]
  return out;
}

}  // namespace gtgm::models
