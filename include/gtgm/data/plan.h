#pragma once
/// Planning: a dataset fingerprint (spacings, shapes, foreground intensities, class frequencies)
/// and the plan derived from it (target spacing with nnU-Net's anisotropic-axis rule, patch size,
/// intensity normalisation), both saved as JSON in the cache directory.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/io/volume.h"

namespace gtgm::data {

/// Foreground intensity statistics of one channel.
struct IntensityStats {
  double mean = 0, std = 0, min = 0, max = 0, median = 0;
  double p00_5 = 0, p99_5 = 0;  ///< 0.5th and 99.5th percentiles
  double lo = 0, hi = 0;        ///< the configured CT clip percentiles (data.preprocess.ct_percentiles)
};

/// What planning learns from one case (axes in the canonical orientation, tensor order (D, H, W)).
struct CaseFingerprint {
  std::string id;
  std::array<double, 3> spacing{1, 1, 1};
  std::array<int64_t, 3> shape{0, 0, 0};          ///< after reorientation
  std::array<int64_t, 3> cropped_shape{0, 0, 0};  ///< after crop to the nonzero region
  int64_t channels = 1;
  std::map<int64_t, int64_t> label_voxels;  ///< voxels per label value (empty without labels)
  /// Sampled foreground intensities per channel (labels > 0, or the whole cropped image for
  /// unlabeled cases); used to compute dataset statistics, not saved.
  std::vector<std::vector<float>> fg_samples;
};

/// The dataset fingerprint (fingerprint.json).
struct Fingerprint {
  std::vector<CaseFingerprint> cases;
  std::vector<IntensityStats> intensity;      ///< per channel, over all cases' samples
  std::map<int64_t, double> class_frequency;  ///< label value -> fraction of labelled voxels
  /// Label values with more distinct values than this are treated as instance ids (EM) and not
  /// listed per value.
  static constexpr int64_t kMaxListedLabels = 256;
  bool instance_labels = false;

  std::string to_json() const;
  static Fingerprint from_json(const std::string& text, const std::string& where);
};

/// Fingerprints one case: reorients (data.preprocess.orientation), crops to nonzero, counts
/// labels and samples up to `max_samples` foreground intensities per channel (deterministic from
/// `seed`). `label` may be null.
CaseFingerprint fingerprint_case(const std::string& id, const io::Volume& image, const io::Volume* label,
                                 const config::PreprocessConfig& cfg, uint64_t seed, int64_t max_samples = 10000);

/// Pools case fingerprints into dataset statistics (intensity stats with the configured clip
/// percentiles, class frequencies).
Fingerprint summarize_fingerprint(std::vector<CaseFingerprint> cases, const config::PreprocessConfig& cfg);

/// How one channel is normalised: ct (fixed statistics from the fingerprint), zscore (per case),
/// range (clip to [clip_lo, clip_hi] and scale to [0, 1]: data.preprocess.normalization = range)
/// or none; plan.json spells it as in EnumNames<NormScheme>.
enum class NormScheme { CT, ZScore, Range, None };

}  // namespace gtgm::data

namespace gtgm::config {
template <>
struct EnumNames<data::NormScheme> {
  static constexpr std::pair<data::NormScheme, const char*> items[] = {
      {data::NormScheme::CT, "ct"},
      {data::NormScheme::ZScore, "zscore"},
      {data::NormScheme::Range, "range"},
      {data::NormScheme::None, "none"}};
};
}  // namespace gtgm::config

namespace gtgm::data {

/// Intensity normalisation of one channel, as resolved by planning.
struct NormalizationParams {
  NormScheme scheme = NormScheme::ZScore;
  bool clip = false;
  double clip_lo = 0, clip_hi = 0;
  double mean = 0, std = 1;  ///< used by "ct"
};

/// The plan (plan.json): everything preprocessing needs.
struct Plan {
  config::Modality modality = config::Modality::CT;
  config::Orientation orientation = config::Orientation::LPS;
  std::array<double, 3> target_spacing{1, 1, 1};   ///< (D, H, W)
  std::array<int64_t, 3> median_shape{0, 0, 0};    ///< cropped cases at the target spacing
  std::array<int64_t, 3> patch_size{0, 0, 0};      ///< suggested segmentation patch
  std::vector<NormalizationParams> normalization;  ///< per channel
  bool crop_nonzero = true;
  config::LabelInterp label_interp = config::LabelInterp::Nearest;
  config::ImageDtype image_dtype = config::ImageDtype::Float32;
  config::Compression compression = config::Compression::None;
  int64_t fg_locations = 1000;
  std::vector<int64_t> labels;  ///< label values seen (empty for instance labels / no labels)
  bool instance_labels = false;

  std::string to_json() const;
  static Plan from_json(const std::string& text, const std::string& where);
  /// Throws a ConfigError naming the key when `cfg` asks for preprocessing this plan was not
  /// made with (orientation, clip, spacing...), telling the user to re-plan.
  void check_matches(const config::DataConfig& cfg, const std::string& where) const;
};

/// nnU-Net's full-resolution target spacing: the per-axis median, except that an axis whose
/// median spacing exceeds `anisotropy_threshold` times the finest other axis, and whose median
/// size is below 1/threshold of the others, gets the 10th percentile of its spacings (but not
/// below the coarsest other axis).
std::array<double, 3> plan_target_spacing(const std::vector<std::array<double, 3>>& spacings,
                                          const std::vector<std::array<int64_t, 3>>& shapes,
                                          double anisotropy_threshold = 3.0);

/// A patch size within `voxel_budget` voxels: proportional to 1/spacing (isotropic in mm) and
/// clipped to the median shape, then rounded down to whole units (16 voxels; 4 for sides below
/// 16) and grown unit by unit along the physically shortest side while the budget and the median
/// shape (rounded up to a unit) allow.
std::array<int64_t, 3> suggest_patch_size(const std::array<double, 3>& spacing,
                                          const std::array<int64_t, 3>& median_shape, int64_t voxel_budget);

/// Builds the plan from a fingerprint and the data config (target spacing from the config when
/// given, else plan_target_spacing).
Plan make_plan(const Fingerprint& fp, const config::DataConfig& cfg);

/// Normalises an image [C, D, H, W] (float) channel by channel with `params`. Range:
/// (clamp(x, lo, hi) - lo) / (hi - lo) in float32, the values of MONAI's
/// ScaleIntensityRange(a_min=lo, a_max=hi, b_min=0, b_max=1, clip=True).
torch::Tensor normalize_image(const torch::Tensor& image, const std::vector<NormalizationParams>& params);

}  // namespace gtgm::data
