#include "gtgm/infer/affinities.h"

#include "gtgm/core/error.h"

namespace gtgm::infer {

using torch::indexing::Slice;

torch::Tensor affinities_from_labels(const torch::Tensor& labels, int64_t background) {
  GTGM_CHECK(labels.defined() && labels.dim() == 3, "affinities_from_labels: expected labels [D, H, W], got shape {}",
             labels.defined() ? labels.sizes() : c10::IntArrayRef{});
  GTGM_CHECK(!labels.is_floating_point() && !labels.is_complex(),
             "affinities_from_labels: labels must have an integer dtype, got {}", labels.scalar_type());
  torch::Tensor l = labels.to(torch::kInt64);
  torch::Tensor aff = torch::zeros({3, l.size(0), l.size(1), l.size(2)}, l.options().dtype(torch::kFloat));
  torch::Tensor fg = l.ne(background);
  for (int64_t c = 0; c < 3; ++c) {
    const int64_t n = l.size(c);
    if (n < 2) continue;
    torch::Tensor cur = l.narrow(c, 1, n - 1), prev = l.narrow(c, 0, n - 1);
    torch::Tensor same = cur.eq(prev).logical_and_(fg.narrow(c, 1, n - 1));
    aff[c].narrow(c, 1, n - 1).copy_(same);
  }
  return aff;
}

torch::Tensor affinity_valid_mask(const std::array<int64_t, 3>& shape) {
  for (int a = 0; a < 3; ++a) GTGM_CHECK(shape[a] >= 1, "affinity_valid_mask: sizes must be >= 1, got {}", shape[a]);
  torch::Tensor m = torch::ones({3, shape[0], shape[1], shape[2]});
  for (int64_t c = 0; c < 3; ++c) m[c].narrow(c, 0, 1).zero_();
  return m;
}

}  // namespace gtgm::infer
