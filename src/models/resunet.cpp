#include "gtgm/models/resunet.h"

#include <fmt/format.h>

#include "gtgm/core/error.h"
#include "gtgm/models/blocks.h"

namespace gtgm::models {

ResUNetEncoderImpl::ResUNetEncoderImpl(const config::EncoderConfig& shared, const config::UNetEncoderConfig& o,
                                       bool residual)
    : EncoderImpl(residual ? "resunet" : "unet", shared.spatial_dims, shared.in_channels),
      options_(o),
      plan_(config::resolve_stage_plan(shared, o)) {
  const int d = shared.spatial_dims;
  GTGM_CHECK(d == 2 || d == 3, "{}: spatial_dims must be 2 or 3, got {}", type(), d);
  const size_t n = plan_.channels.size();
  GTGM_CHECK(n >= 1, "{}: needs at least one stage (model.stages is {})", type(), o.stages);
  const BlockSpec spec = block_spec(shared);

  stem_ = register_module("stem", ConvNormAct(spec, shared.in_channels, plan_.channels[0], plan_.kernels[0]));
  torch::nn::ModuleList list;
  Shape cum(static_cast<size_t>(d), 1);
  int64_t in = plan_.channels[0];
  for (size_t i = 0; i < n; ++i) {
    const Shape& stride = plan_.strides[i];
    const Shape& kernel = plan_.kernels[i];
    const int64_t blocks = plan_.blocks[i];
    GTGM_CHECK(blocks >= 1, "{}: stage {} needs at least one block, got {}", type(), i, blocks);
    const int64_t out = plan_.channels[i];
    torch::nn::Sequential stage;
    for (int64_t b = 0; b < blocks; ++b) {
      const Shape s = b == 0 ? stride : Shape(static_cast<size_t>(d), 1);
      if (residual) {
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
  init_embedding(in, shared.embed_dim);
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
