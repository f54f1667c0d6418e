#pragma once
/// Whole-volume prediction: sliding-window inference on an io::Volume, result as a Volume with the
/// input's geometry, written in the input's file format.
#include <filesystem>
#include <string>

#include "gtgm/data/cache_dataset.h"
#include "gtgm/infer/sliding_window.h"
#include "gtgm/infer/watershed.h"
#include "gtgm/io/volume.h"

namespace gtgm::infer {

/// Semantic segmentation of `image` (data [C, D, H, W], already normalised the way the model was
/// trained): sliding window + argmax. Returns a label Volume [1, D, H, W] (uint8, int16 beyond 256
/// classes) with image.geometry and image.source.
io::Volume predict_labels(const io::Volume& image, const ForwardFn& predictor, const SlidingWindowOptions& options);

/// EM instance segmentation: the predictor returns 3 affinity logits per voxel (z, y, x; see
/// affinities.h); sigmoid, then watershed + agglomeration (`watershed.spacing_dhw` is taken from
/// the image geometry). Returns instance labels [1, D, H, W] int64 with image.geometry.
io::Volume predict_instances(const io::Volume& image, const ForwardFn& predictor, const SlidingWindowOptions& options,
                             WatershedOptions watershed = {});

/// Output path for a prediction of `source` (a file) in `out_dir`: the case id
/// (io::strip_volume_extension) plus the source's extension (".nii.gz", ".h5", ...), so the
/// prediction is written in the input's format.
std::filesystem::path prediction_path(const std::filesystem::path& out_dir, const std::filesystem::path& source);

/// Writes a prediction (labels or instances) to `path` with its geometry: HDF5 paths get the
/// CREMI dataset `volumes/labels/neuron_ids` (uint64, resolution attribute); other formats through
/// io::write_volume.
void write_prediction(const io::Volume& prediction, const std::filesystem::path& path);

/// Where the prediction of a cached case goes: out_dir / (case id + the extension of its first
/// source image, e.g. ".nii.gz"), so it is written in the input's format (".nii.gz" when the
/// source is unknown or a DICOM folder).
std::filesystem::path cached_prediction_path(const std::filesystem::path& out_dir, const data::CacheEntry& entry);

}  // namespace gtgm::infer
