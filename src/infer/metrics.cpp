#include "gtgm/infer/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "gtgm/core/error.h"
#include "gtgm/infer/distance_transform.h"
#include "shape_util.h"

namespace gtgm::infer {

namespace {

constexpr double kMetricNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMetricInf = std::numeric_limits<double>::infinity();

torch::Tensor as_mask(const torch::Tensor& t) { return t.to(torch::kCPU).ne(0); }

void check_pair(const torch::Tensor& pred, const torch::Tensor& ref, const char* what, bool need_3d) {
  GTGM_CHECK(pred.defined() && ref.defined(), "{}: prediction or reference tensor is undefined", what);
  GTGM_CHECK(pred.sizes() == ref.sizes(), "{}: prediction has shape {} but reference has shape {}", what,
             detail::shape_of(pred), detail::shape_of(ref));
  if (need_3d) GTGM_CHECK(pred.dim() == 3, "{}: expected [D, H, W] masks, got shape {}", what, detail::shape_of(pred));
}

// Physical length of the image diagonal: the largest distance two points of the image can have,
// used as HD95 when exactly one mask is empty.
double diagonal(const torch::Tensor& mask, const std::array<double, 3>& spacing) {
  double s = 0;
  for (int a = 0; a < 3; ++a) s += std::pow(static_cast<double>(mask.size(a)) * spacing[a], 2);
  return std::sqrt(s);
}

// Values of `dist` at the voxels where `where` is true, in C order.
std::vector<double> gather(const torch::Tensor& dist, const torch::Tensor& where) {
  torch::Tensor v = dist.masked_select(where).contiguous();
  return {v.data_ptr<double>(), v.data_ptr<double>() + v.numel()};
}

// Per-axis [begin, end) of the voxels set in `mask` ([D, H, W] bool, not all false).
std::array<std::pair<int64_t, int64_t>, 3> bounding_box(const torch::Tensor& mask) {
  std::array<std::pair<int64_t, int64_t>, 3> box;
  for (int a = 0; a < 3; ++a) {
    std::vector<int64_t> others;
    for (int b = 0; b < 3; ++b)
      if (b != a) others.push_back(b);
    torch::Tensor any = mask.any(others[1]).any(others[0]);  // [size_a]
    torch::Tensor idx = any.nonzero().flatten();
    box[a] = {idx.min().item<int64_t>(), idx.max().item<int64_t>() + 1};
  }
  return box;
}

double hd95_from(const SurfaceDistances& d) {
  return std::max(percentile(d.pred_to_ref, 95.0), percentile(d.ref_to_pred, 95.0));
}

double nsd_from(const SurfaceDistances& d, double tolerance) {
  auto within = [tolerance](const std::vector<double>& v) {
    return static_cast<double>(std::count_if(v.begin(), v.end(), [tolerance](double x) { return x <= tolerance; }));
  };
  const double total = static_cast<double>(d.pred_to_ref.size() + d.ref_to_pred.size());
  return (within(d.pred_to_ref) + within(d.ref_to_pred)) / total;
}

}  // namespace

double dice(const torch::Tensor& pred, const torch::Tensor& ref, bool both_empty_as_perfect) {
  check_pair(pred, ref, "dice", false);
  torch::Tensor p = as_mask(pred), r = as_mask(ref);
  const double np = static_cast<double>(p.sum().item<int64_t>());
  const double nr = static_cast<double>(r.sum().item<int64_t>());
  if (np + nr == 0) return both_empty_as_perfect ? 1.0 : kMetricNaN;
  const double both = static_cast<double>(p.logical_and(r).sum().item<int64_t>());
  return 2.0 * both / (np + nr);
}

torch::Tensor surface_voxels(const torch::Tensor& mask) {
  GTGM_CHECK(mask.defined() && mask.dim() == 3, "surface_voxels: expected a [D, H, W] mask, got shape {}",
             detail::shape_of(mask));
  torch::Tensor m = as_mask(mask);
  // Pad with background so voxels on the image border count as surface (scipy binary_erosion with
  // border_value=0, as MONAI's get_mask_edges).
  torch::Tensor p = torch::constant_pad_nd(m.to(torch::kUInt8), {1, 1, 1, 1, 1, 1}, 0).to(torch::kBool);
  using torch::indexing::Slice;
  const int64_t d = m.size(0), h = m.size(1), w = m.size(2);
  torch::Tensor interior = m.clone();
  const std::array<std::array<int64_t, 3>, 6> offsets = {
      {{-1, 0, 0}, {1, 0, 0}, {0, -1, 0}, {0, 1, 0}, {0, 0, -1}, {0, 0, 1}}};
  for (const auto& o : offsets) {
    interior.logical_and_(
        p.index({Slice(1 + o[0], 1 + o[0] + d), Slice(1 + o[1], 1 + o[1] + h), Slice(1 + o[2], 1 + o[2] + w)}));
  }
  return m.logical_and(interior.logical_not());
}

SurfaceDistances surface_distances(const torch::Tensor& pred, const torch::Tensor& ref,
                                   const std::array<double, 3>& spacing_dhw) {
  check_pair(pred, ref, "surface distances", true);
  torch::Tensor p = as_mask(pred), r = as_mask(ref);
  torch::Tensor any = p.logical_or(r);
  SurfaceDistances out;
  if (!any.any().item<bool>()) return out;
  // All surface voxels and their nearest partners lie in the bounding box of the union, and
  // voxels just outside it are background, so the crop changes no distance.
  const auto box = bounding_box(any);
  using torch::indexing::Slice;
  auto crop = [&box](const torch::Tensor& t) {
    return t.index(
        {Slice(box[0].first, box[0].second), Slice(box[1].first, box[1].second), Slice(box[2].first, box[2].second)});
  };
  torch::Tensor sp = surface_voxels(crop(p)), sr = surface_voxels(crop(r));
  const bool has_p = sp.any().item<bool>(), has_r = sr.any().item<bool>();
  if (has_p) {
    out.pred_to_ref = has_r ? gather(distance_to_features(sr, spacing_dhw), sp)
                            : std::vector<double>(static_cast<size_t>(sp.sum().item<int64_t>()), kMetricInf);
  }
  if (has_r) {
    out.ref_to_pred = has_p ? gather(distance_to_features(sp, spacing_dhw), sr)
                            : std::vector<double>(static_cast<size_t>(sr.sum().item<int64_t>()), kMetricInf);
  }
  return out;
}

double percentile(std::vector<double> values, double q) {
  GTGM_CHECK(q >= 0 && q <= 100, "percentile: q must be in [0, 100], got {}", q);
  if (values.empty()) return kMetricNaN;
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  if (frac == 0.0 || values[lo] == values[hi]) return values[lo];
  return values[lo] + (values[hi] - values[lo]) * frac;
}

double hd95(const torch::Tensor& pred, const torch::Tensor& ref, const std::array<double, 3>& spacing_dhw,
            bool both_empty_as_perfect) {
  SurfaceDistances d = surface_distances(pred, ref, spacing_dhw);
  if (d.pred_to_ref.empty() && d.ref_to_pred.empty()) return both_empty_as_perfect ? 0.0 : kMetricNaN;
  if (d.pred_to_ref.empty() || d.ref_to_pred.empty()) return diagonal(pred, spacing_dhw);
  return hd95_from(d);
}

double surface_dice(const torch::Tensor& pred, const torch::Tensor& ref, const std::array<double, 3>& spacing_dhw,
                    double tolerance, bool both_empty_as_perfect) {
  GTGM_CHECK(tolerance >= 0, "surface_dice: tolerance must be >= 0, got {}", tolerance);
  SurfaceDistances d = surface_distances(pred, ref, spacing_dhw);
  if (d.pred_to_ref.empty() && d.ref_to_pred.empty()) return both_empty_as_perfect ? 1.0 : kMetricNaN;
  return nsd_from(d, tolerance);
}

std::map<int64_t, std::map<std::string, double>> score_segmentation(const torch::Tensor& pred, const torch::Tensor& ref,
                                                                    const SegmentationMetricOptions& options) {
  check_pair(pred, ref, "score_segmentation", true);
  GTGM_CHECK(!pred.is_floating_point() && !ref.is_floating_point() && !pred.is_complex(),
             "score_segmentation: label maps must have an integer dtype, got {} (prediction) and {} (reference)",
             c10::toString(pred.scalar_type()), c10::toString(ref.scalar_type()));
  GTGM_CHECK(!options.labels.empty(), "score_segmentation: no labels to score");
  const auto& valid = segmentation_metric_names();
  bool want_surface = false;
  for (const auto& m : options.metrics) {
    GTGM_CHECK(std::find(valid.begin(), valid.end(), m) != valid.end(),
               "score_segmentation: unknown metric '{}' (valid: dice, hd95, nsd)", m);
    want_surface = want_surface || m != "dice";
  }
  torch::Tensor p = pred.to(torch::kCPU), r = ref.to(torch::kCPU);
  std::map<int64_t, std::map<std::string, double>> result;
  for (int64_t label : options.labels) {
    torch::Tensor pm = p.eq(label), rm = r.eq(label);
    auto& row = result[label];
    SurfaceDistances d;
    if (want_surface) d = surface_distances(pm, rm, options.spacing_dhw);
    const bool none = d.pred_to_ref.empty() && d.ref_to_pred.empty();
    const bool one = !none && (d.pred_to_ref.empty() || d.ref_to_pred.empty());
    for (const auto& m : options.metrics) {
      if (m == "dice") {
        row[m] = dice(pm, rm, options.both_empty_as_perfect);
      } else if (m == "hd95") {
        row[m] = none  ? (options.both_empty_as_perfect ? 0.0 : kMetricNaN)
                 : one ? diagonal(pm, options.spacing_dhw)
                       : hd95_from(d);
      } else {  // nsd
        row[m] = none ? (options.both_empty_as_perfect ? 1.0 : kMetricNaN) : nsd_from(d, options.nsd_tolerance);
      }
    }
  }
  return result;
}

double nan_mean(const std::vector<double>& values) {
  double sum = 0;
  int64_t n = 0;
  for (double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    ++n;
  }
  return n ? sum / static_cast<double>(n) : kMetricNaN;
}

std::vector<double> class_dice_ignore_empty(const torch::Tensor& pred, const torch::Tensor& ref,
                                            const std::vector<int64_t>& classes) {
  GTGM_CHECK(pred.defined() && ref.defined() && pred.sizes() == ref.sizes(),
             "dice with background: prediction {} and reference {} differ in shape", detail::shape_of(pred),
             detail::shape_of(ref));
  std::vector<double> out;
  for (int64_t c : classes) {
    const auto r = ref == c;
    const double nr = static_cast<double>(r.sum().item<int64_t>());
    if (nr == 0) {
      out.push_back(kMetricNaN);
      continue;
    }
    const auto p = pred == c;
    const double np = static_cast<double>(p.sum().item<int64_t>());
    const double both = static_cast<double>(p.logical_and(r).sum().item<int64_t>());
    out.push_back(2.0 * both / (np + nr));
  }
  return out;
}

double case_dice_with_background(const torch::Tensor& pred, const torch::Tensor& ref,
                                 const std::vector<int64_t>& classes) {
  return nan_mean(class_dice_ignore_empty(pred, ref, classes));
}

}  // namespace gtgm::infer
