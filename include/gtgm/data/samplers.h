#pragma once
/// Crop samplers: where crops go (two overlapping views for pretraining, foreground-oversampled
/// patches for segmentation, any per-axis size, e.g. anisotropic EM crops) and the copy of a crop
/// out of a (memory-mapped) cache array. Positions are voxel indices (d, h, w) of the cache array.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

#include "gtgm/data/rng.h"

namespace gtgm::data {

using Index3 = std::array<int64_t, 3>;

/// A random crop start: uniform over the starts that keep the crop inside `shape`; on an axis
/// where the crop is larger than the volume, the crop is centred (the rest is padding).
Index3 random_crop_start(const Index3& shape, const Index3& size, Rng& rng);

/// Two overlapping pretraining views of one volume.
struct ViewPair {
  Index3 start1{}, start2{};
  /// Midpoint of the two crop centres (cache voxel index, continuous): what captions are looked
  /// up by.
  std::array<double, 3> centre{};
};

/// View 1 at random_crop_start; view 2 shifted from it by up to `max_shift` (fraction of the crop
/// size, per axis, so anisotropic crops get anisotropic shifts), kept inside the volume where it
/// fits. With max_shift <= 0.5 the views overlap by at least half of the crop along every axis.
ViewPair sample_view_pair(const Index3& shape, const Index3& size, double max_shift, Rng& rng);

/// A crop start containing `location`: uniform over the starts that contain it and stay inside
/// the volume (clamped when the crop is larger than the volume).
Index3 crop_start_around(const Index3& shape, const Index3& size, const Index3& location, Rng& rng);

/// Copies the crop [start, start + size) of `src` [C, D, H, W] (float32/float16/uint8/int16/
/// int32/int64, possibly memory-mapped) into `dst` [C, size...] (contiguous float32 or int64),
/// converting the dtype; voxels outside `src` get `pad`. `channel` >= 0 copies only that source
/// channel (dst then has 1 channel).
void copy_crop(const torch::Tensor& src, const Index3& start, const Index3& size, double pad, torch::Tensor dst,
               int64_t channel = -1);

}  // namespace gtgm::data
