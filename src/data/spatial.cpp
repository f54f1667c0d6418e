#include "gtgm/data/spatial.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "gtgm/core/error.h"

namespace gtgm::data {

namespace F = torch::nn::functional;

namespace {

/// Physical position of a continuous index (i, j, k) (ITK order): O + D diag(S) idx.
std::array<double, 3> index_to_physical(const io::Geometry& g, const std::array<double, 3>& ijk) {
  std::array<double, 3> p = g.origin;
  for (int r = 0; r < 3; ++r) {
    for (int a = 0; a < 3; ++a) p[r] += g.direction[r * 3 + a] * g.spacing[a] * ijk[a];
  }
  return p;
}

/// Tensor-order (d, h, w) index -> ITK-order (i, j, k).
std::array<double, 3> dhw_to_ijk(const std::array<double, 3>& dhw) { return {dhw[2], dhw[1], dhw[0]}; }

/// Source index per output index along one axis for centre-aligned nearest neighbour.
torch::Tensor nearest_indices(int64_t n_in, int64_t n_out) {
  const double s = static_cast<double>(n_in) / static_cast<double>(n_out);
  auto o = torch::arange(n_out, torch::kDouble);
  return ((o + 0.5) * s).floor().clamp(0, n_in - 1).to(torch::kLong);
}

}  // namespace

bool Reorientation::is_identity() const {
  return perm == std::array<int, 3>{0, 1, 2} && !flip[0] && !flip[1] && !flip[2];
}

Reorientation canonical_reorientation(const io::Geometry& g, config::Orientation orientation) {
  Reorientation r;
  if (orientation == config::Orientation::None) return r;
  // Assign each ITK index axis a a physical axis p(a), maximising the product of |D[p(a)][a]|.
  std::array<int, 3> best{0, 1, 2}, p{0, 1, 2};
  double best_score = -1;
  do {
    double score = 1;
    for (int a = 0; a < 3; ++a) score *= std::abs(g.direction[p[a] * 3 + a]);
    if (score > best_score + 1e-12) {
      best_score = score;
      best = p;
    }
  } while (std::next_permutation(p.begin(), p.end()));
  const std::array<double, 3> want =
      orientation == config::Orientation::LPS ? std::array<double, 3>{1, 1, 1} : std::array<double, 3>{-1, -1, 1};
  for (int a = 0; a < 3; ++a) {
    const int phys = best[a];
    const int new_tensor_axis = 2 - phys;  // tensor axes (D, H, W) <-> physical (z, y, x)
    const int old_tensor_axis = 2 - a;
    r.perm[new_tensor_axis] = old_tensor_axis;
    const double sign = g.direction[phys * 3 + a] >= 0 ? 1.0 : -1.0;
    r.flip[new_tensor_axis] = sign != want[phys];
  }
  return r;
}

io::Volume reorient(const io::Volume& v, const Reorientation& r, IndexTransform* new_to_old) {
  GTGM_CHECK(v.data.dim() == 4, "reorient: expected a volume [C, D, H, W], got {} dims", v.data.dim());
  const auto old_shape = v.shape();
  IndexTransform t;
  t.m.fill(0.0);
  for (int a = 0; a < 3; ++a) {
    const int o = r.perm[a];
    t.m[o * 4 + a] = r.flip[a] ? -1.0 : 1.0;
    t.m[o * 4 + 3] = r.flip[a] ? static_cast<double>(old_shape[o] - 1) : 0.0;
  }
  if (new_to_old != nullptr) *new_to_old = t;
  if (r.is_identity()) return v;

  io::Volume out;
  out.source = v.source;
  auto data = v.data.permute({0, 1 + r.perm[0], 1 + r.perm[1], 1 + r.perm[2]});
  std::vector<int64_t> flips;
  for (int a = 0; a < 3; ++a) {
    if (r.flip[a]) flips.push_back(1 + a);
  }
  if (!flips.empty()) data = data.flip(flips);
  out.data = data.contiguous();

  const auto& g = v.geometry;
  auto& ng = out.geometry;
  for (int a = 0; a < 3; ++a) {
    const int new_itk = 2 - a, old_itk = 2 - r.perm[a];
    ng.spacing[new_itk] = g.spacing[old_itk];
    const double s = r.flip[a] ? -1.0 : 1.0;
    for (int row = 0; row < 3; ++row) ng.direction[row * 3 + new_itk] = s * g.direction[row * 3 + old_itk];
  }
  ng.origin = index_to_physical(g, dhw_to_ijk(t.apply({0, 0, 0})));
  return out;
}

Box nonzero_box(const torch::Tensor& data) {
  GTGM_CHECK(data.dim() == 4, "nonzero_box: expected [C, D, H, W], got {} dims", data.dim());
  const auto any = (data != 0).any(0);  // [D, H, W]
  Box box;
  for (int a = 0; a < 3; ++a) {
    std::vector<int64_t> others;
    for (int b = 0; b < 3; ++b) {
      if (b != a) others.push_back(b);
    }
    const auto profile = any.any(others[1]).any(others[0]);  // [n_a]
    const auto idx = profile.nonzero();
    if (idx.numel() == 0) {
      box.begin = {0, 0, 0};
      box.end = {data.size(1), data.size(2), data.size(3)};
      return box;
    }
    box.begin[a] = idx.min().item<int64_t>();
    box.end[a] = idx.max().item<int64_t>() + 1;
  }
  return box;
}

io::Volume crop(const io::Volume& v, const Box& box, IndexTransform* new_to_old) {
  const auto shape = v.shape();
  for (int a = 0; a < 3; ++a) {
    GTGM_CHECK(box.begin[a] >= 0 && box.end[a] <= shape[a] && box.begin[a] < box.end[a],
               "crop: box [{}, {}) on axis {} does not fit a volume of size {}", box.begin[a], box.end[a], a, shape[a]);
  }
  const auto t = IndexTransform::scale_offset(
      {1, 1, 1},
      {static_cast<double>(box.begin[0]), static_cast<double>(box.begin[1]), static_cast<double>(box.begin[2])});
  if (new_to_old != nullptr) *new_to_old = t;
  io::Volume out;
  out.source = v.source;
  out.geometry = v.geometry;
  out.geometry.origin = index_to_physical(v.geometry, dhw_to_ijk(t.apply({0, 0, 0})));
  out.data = v.data.slice(1, box.begin[0], box.end[0])
                 .slice(2, box.begin[1], box.end[1])
                 .slice(3, box.begin[2], box.end[2])
                 .contiguous();
  return out;
}

std::array<int64_t, 3> resampled_shape(const std::array<int64_t, 3>& shape, const std::array<double, 3>& spacing,
                                       const std::array<double, 3>& target) {
  std::array<int64_t, 3> out{};
  for (int a = 0; a < 3; ++a) {
    GTGM_CHECK(target[a] > 0 && spacing[a] > 0, "resampling needs positive spacings (axis {}: {} -> {})", a, spacing[a],
               target[a]);
    out[a] = std::max<int64_t>(1, std::llround(static_cast<double>(shape[a]) * spacing[a] / target[a]));
  }
  return out;
}

LabelInterp parse_label_interp(const std::string& name) {
  if (const auto interp = config::parse_enum<LabelInterp>(name)) return *interp;
  throw ConfigError("unknown label interpolation '" + name + "'; expected nearest or linear");
}

torch::Tensor resample_image(const torch::Tensor& image, const std::array<int64_t, 3>& shape) {
  GTGM_CHECK(image.dim() == 4, "resample_image: expected [C, D, H, W], got {} dims", image.dim());
  auto x = image.to(torch::kFloat);
  if (x.size(1) == shape[0] && x.size(2) == shape[1] && x.size(3) == shape[2]) return x.contiguous();
  auto out = torch::empty({x.size(0), shape[0], shape[1], shape[2]}, torch::kFloat);
  // One channel at a time keeps the peak memory at one input plus one output channel.
  for (int64_t c = 0; c < x.size(0); ++c) {
    out[c] = F::interpolate(x[c].unsqueeze(0).unsqueeze(0), F::InterpolateFuncOptions()
                                                                .size(std::vector<int64_t>(shape.begin(), shape.end()))
                                                                .mode(torch::kTrilinear)
                                                                .align_corners(false))[0][0];
  }
  return out;
}

torch::Tensor resample_labels(const torch::Tensor& labels, const std::array<int64_t, 3>& shape, LabelInterp interp) {
  GTGM_CHECK(labels.dim() == 4 && labels.size(0) == 1, "resample_labels: expected [1, D, H, W], got {}",
             labels.sizes());
  auto y = labels.to(torch::kLong);
  if (y.size(1) == shape[0] && y.size(2) == shape[1] && y.size(3) == shape[2]) return y.contiguous();
  if (interp == LabelInterp::Nearest) {
    return y.index_select(1, nearest_indices(y.size(1), shape[0]))
        .index_select(2, nearest_indices(y.size(2), shape[1]))
        .index_select(3, nearest_indices(y.size(3), shape[2]))
        .contiguous();
  }
  const auto values = std::get<0>(torch::_unique(y.flatten(), /*sorted=*/true));
  GTGM_CHECK(values.numel() <= 256,
             "label_interp=linear interpolates one channel per label value, but the map has {} values (instance "
             "labels?); use data.preprocess.label_interp=nearest",
             values.numel());
  auto best = torch::full({1, shape[0], shape[1], shape[2]}, -1.0f);
  auto out = torch::zeros({1, shape[0], shape[1], shape[2]}, torch::kLong);
  const auto size = std::vector<int64_t>(shape.begin(), shape.end());
  for (int64_t i = 0; i < values.numel(); ++i) {
    const int64_t value = values[i].item<int64_t>();
    auto p = F::interpolate((y == value).to(torch::kFloat).unsqueeze(0),
                            F::InterpolateFuncOptions().size(size).mode(torch::kTrilinear).align_corners(false))[0];
    const auto better = p > best;
    best = torch::where(better, p, best);
    out.masked_fill_(better, value);
  }
  return out;
}

io::Volume resample(const io::Volume& v, const std::array<int64_t, 3>& shape, bool labels, LabelInterp interp,
                    IndexTransform* new_to_old) {
  const auto old = v.shape();
  std::array<double, 3> s{}, off{};
  for (int a = 0; a < 3; ++a) {
    s[a] = static_cast<double>(old[a]) / static_cast<double>(shape[a]);
    off[a] = 0.5 * s[a] - 0.5;
  }
  const auto t = IndexTransform::scale_offset(s, off);
  if (new_to_old != nullptr) *new_to_old = t;
  io::Volume out;
  out.source = v.source;
  out.geometry = v.geometry;
  for (int a = 0; a < 3; ++a) out.geometry.spacing[2 - a] = v.geometry.spacing[2 - a] * s[a];
  out.geometry.origin = index_to_physical(v.geometry, dhw_to_ijk(t.apply({0, 0, 0})));
  out.data = labels ? resample_labels(v.data, shape, interp) : resample_image(v.data, shape);
  return out;
}

io::Volume restore_to_source(const torch::Tensor& pred, const CacheHeader& header, RestoreInterp interp, double fill) {
  GTGM_CHECK(pred.dim() == 4, "restore_to_source: expected a prediction [C, d, h, w], got {}", pred.sizes());
  for (int a = 0; a < 3; ++a) {
    GTGM_CHECK(pred.size(1 + a) == header.shape[1 + a],
               "restore_to_source: prediction spatial shape {} does not match the cache array [{}, {}, {}]",
               pred.sizes(), header.shape[1], header.shape[2], header.shape[3]);
  }
  const auto& m = header.to_source.m;
  const auto& n_src = header.source_shape;
  // Decompose cache -> source as (resample by s, offset by the crop start, signed permutation).
  std::array<int, 3> src_axis{-1, -1, -1};
  std::array<bool, 3> flipped{};
  std::array<int64_t, 3> crop_shape{}, crop_begin{};
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      if (std::abs(m[b * 4 + a]) > 1e-12) {
        GTGM_CHECK(src_axis[a] < 0, "restore_to_source: the cache->source map is not axis-aligned (axis {})", a);
        src_axis[a] = b;
      }
    }
    GTGM_CHECK(src_axis[a] >= 0, "restore_to_source: the cache->source map has no source axis for cache axis {}", a);
    const int b = src_axis[a];
    const double coef = m[b * 4 + a];
    const double s = std::abs(coef);
    flipped[a] = coef < 0;
    crop_shape[a] = std::llround(static_cast<double>(header.shape[1 + a]) * s);
    const double base = 0.5 * s - 0.5;
    const double begin = flipped[a] ? static_cast<double>(n_src[b] - 1) - m[b * 4 + 3] - base : m[b * 4 + 3] - base;
    crop_begin[a] = std::llround(begin);
    GTGM_CHECK(std::abs(begin - static_cast<double>(crop_begin[a])) < 1e-3 && crop_begin[a] >= 0 &&
                   crop_begin[a] + crop_shape[a] <= n_src[b],
               "restore_to_source: the cache->source map does not describe a crop inside the source (axis {}: "
               "begin {}, size {}, source size {})",
               a, begin, crop_shape[a], n_src[b]);
  }

  torch::Tensor part;
  if (interp == RestoreInterp::Linear) {
    part = resample_image(pred.cpu(), crop_shape);
  } else {
    auto p = pred.cpu();
    part = p.index_select(1, nearest_indices(p.size(1), crop_shape[0]))
               .index_select(2, nearest_indices(p.size(2), crop_shape[1]))
               .index_select(3, nearest_indices(p.size(3), crop_shape[2]));
  }
  auto full = torch::full({pred.size(0), n_src[src_axis[0]], n_src[src_axis[1]], n_src[src_axis[2]]}, fill,
                          torch::TensorOptions().dtype(part.scalar_type()));
  full.slice(1, crop_begin[0], crop_begin[0] + crop_shape[0])
      .slice(2, crop_begin[1], crop_begin[1] + crop_shape[1])
      .slice(3, crop_begin[2], crop_begin[2] + crop_shape[2])
      .copy_(part);
  std::vector<int64_t> flips;
  for (int a = 0; a < 3; ++a) {
    if (flipped[a]) flips.push_back(1 + a);
  }
  if (!flips.empty()) full = full.flip(flips);
  std::array<int64_t, 3> inv{};
  for (int a = 0; a < 3; ++a) inv[src_axis[a]] = a;
  io::Volume out;
  out.data = full.permute({0, 1 + inv[0], 1 + inv[1], 1 + inv[2]}).contiguous();
  out.geometry = header.source_geometry;
  return out;
}

}  // namespace gtgm::data
