#pragma once
/// Segmentation metrics of one class (binary masks) and of a label map (per class). Definitions,
/// empty-mask rules and tolerances are in docs/metrics.md; summary:
///  - Dice = 2|P∩R| / (|P| + |R|).
///  - Surface voxels: foreground voxels with at least one 6-connected neighbour that is background
///    or outside the image. Surface distances: from each surface voxel of one mask to the nearest
///    surface voxel of the other, between voxel centres, in physical units (voxel spacing).
///  - HD95 = max(p95(d(P->R)), p95(d(R->P))), p95 = 95th percentile with linear interpolation
///    (numpy.percentile's default), as MONAI's compute_hausdorff_distance(percentile=95).
///  - NSD(tau) = (#{d(P->R) <= tau} + #{d(R->P) <= tau}) / (|S_P| + |S_R|) (voxel counts, as
///    MONAI's compute_surface_dice without sub-voxels).
///  - Both masks empty: NaN (left out of means) by default; with `both_empty_as_perfect`, the
///    perfect value (Dice 1, NSD 1, HD95 0). Exactly one empty: Dice 0, NSD 0, HD95 = the length of
///    the image diagonal (sqrt(sum (size_a * spacing_a)^2)), the largest distance the image allows.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gtgm::infer {

/// Metric names accepted by the segmentation scorer.
inline const std::vector<std::string>& segmentation_metric_names() {
  static const std::vector<std::string> names = {"dice", "hd95", "nsd"};
  return names;
}

/// Dice of two binary masks (same shape, any dims; nonzero = foreground).
double dice(const torch::Tensor& pred, const torch::Tensor& ref, bool both_empty_as_perfect = false);

/// Surface voxels of a [D, H, W] mask: foreground with a 6-connected background (or outside)
/// neighbour. Returns [D, H, W] bool.
torch::Tensor surface_voxels(const torch::Tensor& mask);

/// Directed surface distances between two [D, H, W] masks, in physical units.
struct SurfaceDistances {
  std::vector<double> pred_to_ref;  ///< one value per surface voxel of pred: distance to ref's surface
  std::vector<double> ref_to_pred;  ///< one value per surface voxel of ref: distance to pred's surface
};
/// Both directions; a direction is empty when its source mask is empty, and all +inf when the
/// target mask is empty. `spacing_dhw` is the voxel size along D, H, W.
SurfaceDistances surface_distances(const torch::Tensor& pred, const torch::Tensor& ref,
                                   const std::array<double, 3>& spacing_dhw);

/// q-th percentile (q in [0, 100]) with linear interpolation between order statistics, as
/// numpy.percentile(values, q). NaN for an empty input.
double percentile(std::vector<double> values, double q);

/// 95th-percentile Hausdorff distance of two [D, H, W] masks (see the file comment for empty masks).
double hd95(const torch::Tensor& pred, const torch::Tensor& ref, const std::array<double, 3>& spacing_dhw,
            bool both_empty_as_perfect = false);

/// Normalised surface Dice at tolerance `tolerance` (physical units) of two [D, H, W] masks.
double surface_dice(const torch::Tensor& pred, const torch::Tensor& ref, const std::array<double, 3>& spacing_dhw,
                    double tolerance, bool both_empty_as_perfect = false);

/// What to compute for a label map.
struct SegmentationMetricOptions {
  std::vector<int64_t> labels;                       ///< classes to score (each `pred == l` vs `ref == l`)
  std::vector<std::string> metrics = {"dice"};       ///< subset of segmentation_metric_names()
  std::array<double, 3> spacing_dhw{1.0, 1.0, 1.0};  ///< voxel size along D, H, W
  double nsd_tolerance = 1.0;                        ///< NSD tolerance, physical units
  bool both_empty_as_perfect = false;                ///< see the file comment
};

/// Per-class scores of two label maps [D, H, W] (integer dtype, same shape): result[label][metric].
std::map<int64_t, std::map<std::string, double>> score_segmentation(const torch::Tensor& pred, const torch::Tensor& ref,
                                                                    const SegmentationMetricOptions& options);

/// Mean of the non-NaN values (NaN when none).
double nan_mean(const std::vector<double>& values);

/// Dice the way the reference reports it (finetune/task1.py:316-318, 246): MONAI's
/// DiceMetric(include_background=True, reduction="mean") on one-hot argmax predictions. Per case
/// and class c of `classes` (which include the background 0): Dice of (pred == c) vs (ref == c),
/// NaN when the reference has no voxel of c (MONAI's ignore_empty: such a class is not scored,
/// even when predicted). The case value is the mean of its non-NaN classes (NaN when none); the
/// dataset value is the mean of the non-NaN case values (nan_mean), as do_metric_reduction(MEAN).
/// `pred`, `ref`: [D, H, W] integer label maps of one shape.
std::vector<double> class_dice_ignore_empty(const torch::Tensor& pred, const torch::Tensor& ref,
                                            const std::vector<int64_t>& classes);
/// nan_mean(class_dice_ignore_empty(...)): one case's Dice with background, as the reference.
double case_dice_with_background(const torch::Tensor& pred, const torch::Tensor& ref,
                                 const std::vector<int64_t>& classes);

}  // namespace gtgm::infer
