#pragma once
/// Case-level preprocessing: reorient -> crop to nonzero -> normalise -> resample, keeping the
/// exact index map back to the source voxels, and writing the result into the cache.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/cache_format.h"
#include "gtgm/data/plan.h"
#include "gtgm/io/volume.h"

namespace gtgm::data {

/// One preprocessed case, in memory.
struct PreprocessedCase {
  torch::Tensor image;  ///< [C, D, H, W] float32, normalised, at the plan's target spacing
  torch::Tensor label;  ///< [1, D, H, W] int64, or undefined
  /// Geometry of the arrays, the source's shape/geometry and the cache -> source index map
  /// (dtype/compression are set when writing).
  CacheHeader header;
  double background = 0.0;  ///< minimum of the normalised image (crop padding)
  /// Up to plan.fg_locations sampled voxel positions per label value > 0 (one key, 1, for
  /// instance labels).
  std::map<int64_t, std::vector<std::array<int64_t, 3>>> fg;
};

/// Preprocesses one case with `plan`. `label` may be null; when given it must have the image's
/// shape. Deterministic from `seed` (foreground location sampling).
PreprocessedCase preprocess_case(const io::Volume& image, const io::Volume* label, const Plan& plan, uint64_t seed);

/// Writes `c` as cases/<id>.gvol (+ cases/<id>_seg.gvol) under `cache_dir` with the plan's
/// image dtype and compression, and returns its cache.json entry.
CacheEntry write_cache_case(const std::filesystem::path& cache_dir, const std::string& id, const PreprocessedCase& c,
                            const Plan& plan, const std::string& source_image = "",
                            const std::string& source_label = "");

/// Smallest integer cache dtype holding every value of `labels` (uint8, int16, int32); throws
/// naming `what` when values exceed int32.
CacheDType label_cache_dtype(const torch::Tensor& labels, const std::string& what);

}  // namespace gtgm::data
