#pragma once
/// Whole-volume spatial operations of preprocessing: reorientation to a canonical orientation,
/// crop to the nonzero region, resampling to a target spacing, and the inverse chain that maps a
/// prediction made in cache space back onto the source file's voxel grid.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>

#include "gtgm/config/data_config.h"
#include "gtgm/data/cache_format.h"
#include "gtgm/io/volume.h"

namespace gtgm::data {

/// A signed axis permutation of the tensor axes (D, H, W): new axis a is old axis `perm[a]`,
/// read backwards when `flip[a]`.
struct Reorientation {
  std::array<int, 3> perm{0, 1, 2};
  std::array<bool, 3> flip{false, false, false};
  bool is_identity() const;
};

/// The reorientation that makes the index axes (W, H, D) point along physical (x, y, z) with the
/// signs of `orientation`: "LPS" (direction = identity, as ITK), "RAS" (x and y reversed) or
/// "none" (identity). Oblique directions go to the closest axis; the residual rotation is kept in
/// the geometry.
Reorientation canonical_reorientation(const io::Geometry& geometry, config::Orientation orientation);

/// Applies `r` to `v` ([C, D, H, W] data and geometry, so physical positions are unchanged).
/// `new_to_old` (optional) receives the index map from the new grid to the old one.
io::Volume reorient(const io::Volume& v, const Reorientation& r, IndexTransform* new_to_old = nullptr);

/// Half-open box [begin, end) per tensor axis (D, H, W).
struct Box {
  std::array<int64_t, 3> begin{0, 0, 0};
  std::array<int64_t, 3> end{0, 0, 0};
  std::array<int64_t, 3> size() const { return {end[0] - begin[0], end[1] - begin[1], end[2] - begin[2]}; }
};

/// Bounding box of voxels that are nonzero in any channel of `data` [C, D, H, W]; the whole volume
/// when everything is zero.
Box nonzero_box(const torch::Tensor& data);

/// Crops `v` to `box` (data and origin). `new_to_old` receives the index map.
io::Volume crop(const io::Volume& v, const Box& box, IndexTransform* new_to_old = nullptr);

/// Output shape (D, H, W) for resampling `shape` with `spacing_dhw` to `target_dhw`:
/// round(shape * spacing / target), at least 1.
std::array<int64_t, 3> resampled_shape(const std::array<int64_t, 3>& shape, const std::array<double, 3>& spacing_dhw,
                                       const std::array<double, 3>& target_dhw);

/// How label maps are resampled (data.preprocess.label_interp).
using LabelInterp = config::LabelInterp;
/// Parses "nearest" / "linear".
LabelInterp parse_label_interp(const std::string& name);

/// Resamples an image [C, D, H, W] (float) to `shape` with trilinear interpolation, voxel centres
/// aligned (align_corners = false). Returns float32.
torch::Tensor resample_image(const torch::Tensor& image, const std::array<int64_t, 3>& shape);

/// Resamples a label map [1, D, H, W] (integer) to `shape`: nearest neighbour (centre aligned) or
/// per-class linear (one-hot channels interpolated trilinearly, argmax). Returns int64.
torch::Tensor resample_labels(const torch::Tensor& labels, const std::array<int64_t, 3>& shape, LabelInterp interp);

/// Resamples `v` to `shape`, updating spacing (exactly shape-ratio based) and origin so physical
/// positions are kept. `labels` chooses resample_labels over resample_image. `new_to_old`
/// receives the index map.
io::Volume resample(const io::Volume& v, const std::array<int64_t, 3>& shape, bool labels,
                    LabelInterp interp = LabelInterp::Nearest, IndexTransform* new_to_old = nullptr);

/// How restore_to_source interpolates.
enum class RestoreInterp {
  Linear,   ///< probabilities / logits / images: trilinear
  Nearest,  ///< label maps
};

/// Maps `pred` [C, d, h, w], defined on the grid of a cache array whose header is `header`, back
/// onto the source file's voxel grid: resample to the cropped source resolution, paste into the
/// full reoriented extent (outside = `fill`), undo the reorientation. Returns a Volume with the
/// source geometry and data [C, D, H, W] in the source's axis order (float for Linear, the input
/// dtype for Nearest).
io::Volume restore_to_source(const torch::Tensor& pred, const CacheHeader& header, RestoreInterp interp,
                             double fill = 0.0);

}  // namespace gtgm::data
