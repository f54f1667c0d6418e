#pragma once
/// Prediction for preprocessed (cached) cases, mapped back onto the source file's voxel grid.
/// Preprocessing may reorient, crop and resample (gtgm/data/preprocess.h); the label map is made
/// on the cache grid (sliding window + argmax) and then mapped back with
/// data::restore_to_source (nearest neighbour, outside the crop = background 0). Only the uint8
/// label map is resampled, never a K-channel probability volume, so host memory stays bounded.
#include <filesystem>

#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/cache_format.h"
#include "gtgm/infer/sliding_window.h"
#include "gtgm/io/volume.h"

namespace gtgm::infer {

/// Segments `cached_image` [C, d, h, w] (cache space, normalised) and returns labels [1, D, H, W]
/// on the source grid of `header` with the source geometry.
io::Volume predict_to_source(const torch::Tensor& cached_image, const data::CacheHeader& header,
                             const ForwardFn& predictor, const SlidingWindowOptions& options);

/// predict_to_source for one case of an opened cache; Volume::source is the case's source image.
io::Volume predict_cached_case(const data::CacheCase& c, const ForwardFn& predictor,
                               const SlidingWindowOptions& options);

/// Where the prediction of a cached case goes: out_dir / (case id + the extension of its first
/// source image, e.g. ".nii.gz"), so it is written in the input's format (".nii.gz" when the
/// source is unknown or a DICOM folder).
std::filesystem::path cached_prediction_path(const std::filesystem::path& out_dir, const data::CacheEntry& entry);

}  // namespace gtgm::infer
