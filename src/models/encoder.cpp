#include "gtgm/models/encoder.h"

#include <fmt/format.h>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::models {

namespace {

NormKind norm_kind(config::Norm n) {
  switch (n) {
    case config::Norm::Batch:
      return NormKind::Batch;
    case config::Norm::Instance:
      return NormKind::Instance;
    case config::Norm::Group:
      return NormKind::Group;
  }
  return NormKind::None;
}

ActKind act_kind(config::Activation a) {
  switch (a) {
    case config::Activation::ReLU:
      return ActKind::ReLU;
    case config::Activation::LeakyReLU:
      return ActKind::LeakyReLU;
    case config::Activation::GELU:
      return ActKind::GELU;
  }
  return ActKind::None;
}

}  // namespace

Shape to_shape(const std::vector<int>& v) { return Shape(v.begin(), v.end()); }

BlockSpec block_spec(const config::EncoderConfig& shared) {
  return BlockSpec{shared.spatial_dims, norm_kind(shared.norm), shared.norm_groups, act_kind(shared.activation)};
}

void EncoderImpl::check_input(const torch::Tensor& x, const Shape& divisor, const std::string& what) const {
  const char* layout = dims_ == 3 ? "D, H, W" : "H, W";
  GTGM_CHECK(x.defined() && x.dim() == dims_ + 2 && x.size(1) == in_channels_,
             "{} expects input [B, {}, {}] ({}D, model.in_channels = {}), got {}", what, in_channels_, layout, dims_,
             in_channels_, x.defined() ? core::shape_str(x.sizes()) : "an undefined tensor");
  bool ok = true;
  for (int a = 0; a < dims_; ++a) ok = ok && x.size(a + 2) % divisor[static_cast<size_t>(a)] == 0;
  if (!ok) {
    Shape spatial(x.sizes().begin() + 2, x.sizes().end());
    Shape suggest;
    for (int a = 0; a < dims_; ++a) {
      const int64_t d = divisor[static_cast<size_t>(a)];
      suggest.push_back((spatial[static_cast<size_t>(a)] + d - 1) / d * d);
    }
    GTGM_THROW(
        "{} cannot take input size {} ({}): every size must be a multiple of {} (the total stride); "
        "pad or crop to e.g. {}",
        what, core::shape_str(spatial), layout, core::shape_str(divisor), core::shape_str(suggest));
  }
}

void EncoderImpl::init_embedding(int64_t width, int64_t embed_dim) {
  if (embed_dim <= 0 || embed_dim == width) {
    embed_dim_ = width;
    return;
  }
  embed_ = register_module("embed", Linear(width, embed_dim));
  embed_dim_ = embed_dim;
}

torch::Tensor EncoderImpl::embed(const torch::Tensor& pooled) { return embed_ ? embed_->forward(pooled) : pooled; }

}  // namespace gtgm::models
