#include "gtgm/models/heads.h"

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::models {

ProjectionHeadImpl::ProjectionHeadImpl(int64_t in, int64_t hidden, int64_t out, bool out_bn) : in_(in), out_(out) {
  fc1_ = register_module("fc1", Linear(in, hidden));
  bn1_ = register_module("bn1", Norm(NormKind::Batch, hidden));
  fc2_ = register_module("fc2", Linear(hidden, out));
  if (out_bn) bn2_ = register_module("bn2", Norm(NormKind::Batch, out, 1, /*affine=*/false));
}

torch::Tensor ProjectionHeadImpl::forward(const torch::Tensor& x) {
  GTGM_CHECK(x.dim() == 2 && x.size(1) == in_, "projection head expects [B, {}], got {}", in_,
             core::shape_str(x.sizes()));
  GTGM_CHECK(!is_training() || x.size(0) >= 2,
             "projection head BatchNorm needs >= 2 samples per batch in training, got {} (raise data.batch_size)",
             core::shape_str(x.sizes()));
  auto y = torch::relu(bn1_->forward(fc1_->forward(x)));  // [B, hidden]
  y = fc2_->forward(y);                                    // [B, out]
  return bn2_ ? bn2_->forward(y) : y;
}

SegmentationHeadImpl::SegmentationHeadImpl(const SegmentationHeadOptions& o) : options_(o) {
  GTGM_CHECK(!o.in_channels().empty(), "segmentation head needs at least one decoder level");
  const Shape one(static_cast<size_t>(o.dims()), 1);
  out_ = register_module("out", Conv(ConvOptions(o.dims(), o.in_channels()[0], o.out_channels(), one).bias(true)));
  if (o.deep_supervision() && o.in_channels().size() > 1) {
    torch::nn::ModuleList deep;
    for (size_t i = 1; i < o.in_channels().size(); ++i) {
      deep_.push_back(Conv(ConvOptions(o.dims(), o.in_channels()[i], o.out_channels(), one).bias(true)));
      deep->push_back(deep_.back());
    }
    register_module("deep", deep);
  }
}

torch::Tensor SegmentationHeadImpl::forward(const torch::Tensor& top) { return out_->forward(top); }

std::vector<torch::Tensor> SegmentationHeadImpl::forward_all(const std::vector<torch::Tensor>& maps) {
  GTGM_CHECK(maps.size() == options_.in_channels().size(), "segmentation head built for {} decoder levels, got {}",
             options_.in_channels().size(), maps.size());
  std::vector<torch::Tensor> out{out_->forward(maps[0])};
  for (size_t i = 0; i < deep_.size(); ++i) out.push_back(deep_[i]->forward(maps[i + 1]));
  return out;
}

}  // namespace gtgm::models
