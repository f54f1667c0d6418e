#include "gtgm/infer/distance_transform.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtgm/core/error.h"
#include "shape_util.h"

namespace gtgm::infer {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// 1-D squared distance transform of the sampled function f (length n, stride `stride` in `data`)
// with sample positions q * step: d(p) = min_q (step * (p - q))^2 + f(q). Infinite samples are
// left out of the lower envelope of parabolas; a line without any finite sample stays +inf.
// `v`, `z` and `tmp` are scratch buffers of size >= n, n + 1 and n.
void transform_line(double* data, int64_t n, int64_t stride, double step, std::vector<int64_t>& v,
                    std::vector<double>& z, std::vector<double>& tmp) {
  for (int64_t i = 0; i < n; ++i) tmp[i] = data[i * stride];
  int64_t k = -1;  // index of the rightmost parabola in the envelope
  for (int64_t q = 0; q < n; ++q) {
    if (tmp[q] == kInf) continue;
    const double xq = step * static_cast<double>(q);
    const double fq = tmp[q] + xq * xq;
    double s = -kInf;
    while (k >= 0) {
      const double xv = step * static_cast<double>(v[k]);
      // Abscissa where the parabola rooted at q overtakes the one rooted at v[k].
      s = (fq - (tmp[v[k]] + xv * xv)) / (2.0 * (xq - xv));
      if (s > z[k]) break;
      --k;
    }
    ++k;
    v[k] = q;
    z[k] = k == 0 ? -kInf : s;
    z[k + 1] = kInf;
  }
  if (k < 0) return;  // no finite sample: the line stays +inf
  int64_t j = 0;
  for (int64_t p = 0; p < n; ++p) {
    const double xp = step * static_cast<double>(p);
    while (z[j + 1] < xp) ++j;
    const double dx = xp - step * static_cast<double>(v[j]);
    data[p * stride] = dx * dx + tmp[v[j]];
  }
}

}  // namespace

void squared_distance_to_features(const uint8_t* features, const std::array<int64_t, 3>& shape,
                                  const std::array<double, 3>& spacing_dhw, double* out) {
  for (int a = 0; a < 3; ++a) {
    GTGM_CHECK(shape[a] >= 0, "distance transform: negative size {} on axis {}", shape[a], a);
    GTGM_CHECK(spacing_dhw[a] > 0 && std::isfinite(spacing_dhw[a]),
               "distance transform: spacing must be positive and finite, got {} on axis {}", spacing_dhw[a], a);
  }
  const int64_t d = shape[0], h = shape[1], w = shape[2];
  const int64_t n = d * h * w;
  for (int64_t i = 0; i < n; ++i) out[i] = features[i] ? 0.0 : kInf;
  const int64_t longest = std::max({d, h, w, int64_t{1}});
  std::vector<int64_t> v(longest);
  std::vector<double> z(longest + 1), tmp(longest);
  // Along W (contiguous), then H, then D: each pass is exact given the previous ones (separability
  // of the squared Euclidean distance).
  for (int64_t i = 0; i < d * h; ++i) transform_line(out + i * w, w, 1, spacing_dhw[2], v, z, tmp);
  for (int64_t k = 0; k < d; ++k)
    for (int64_t i = 0; i < w; ++i) transform_line(out + k * h * w + i, h, w, spacing_dhw[1], v, z, tmp);
  for (int64_t i = 0; i < h * w; ++i) transform_line(out + i, d, h * w, spacing_dhw[0], v, z, tmp);
}

torch::Tensor distance_to_features(const torch::Tensor& features, const std::array<double, 3>& spacing_dhw) {
  GTGM_CHECK(features.defined() && features.dim() == 3, "distance transform: expected a [D, H, W] mask, got shape {}",
             detail::shape_of(features));
  torch::Tensor mask = features.to(torch::kCPU).ne(0).to(torch::kUInt8).contiguous();
  torch::Tensor out = torch::empty(features.sizes(), torch::TensorOptions().dtype(torch::kFloat64));
  squared_distance_to_features(mask.data_ptr<uint8_t>(), {mask.size(0), mask.size(1), mask.size(2)}, spacing_dhw,
                               out.data_ptr<double>());
  return out.sqrt_();
}

}  // namespace gtgm::infer
