#include "gtgm/infer/predict.h"

#include "gtgm/core/error.h"
#include "gtgm/io/hdf5_io.h"
#include "gtgm/io/volume_io.h"

namespace gtgm::infer {

namespace fs = std::filesystem;

io::Volume predict_labels(const io::Volume& image, const ForwardFn& predictor, const SlidingWindowOptions& options) {
  GTGM_CHECK(image.data.defined() && image.data.dim() == 4, "predict: {}: expected image data [C, D, H, W], got {}",
             image.source.empty() ? "volume" : image.source,
             image.data.defined() ? image.data.sizes() : c10::IntArrayRef{});
  io::Volume out;
  out.data = sliding_window_segment(image.data.to(torch::kFloat), predictor, options).unsqueeze(0);
  out.geometry = image.geometry;
  out.source = image.source;
  return out;
}

io::Volume predict_instances(const io::Volume& image, const ForwardFn& predictor, const SlidingWindowOptions& options,
                             WatershedOptions watershed) {
  GTGM_CHECK(image.data.defined() && image.data.dim() == 4, "predict: {}: expected image data [C, D, H, W], got {}",
             image.source.empty() ? "volume" : image.source,
             image.data.defined() ? image.data.sizes() : c10::IntArrayRef{});
  torch::Tensor logits = sliding_window_inference(image.data.to(torch::kFloat), predictor, options);
  GTGM_CHECK(logits.size(0) == 3, "predict: {}: an affinity model must return 3 channels (z, y, x), got {}",
             image.source.empty() ? "volume" : image.source, logits.size(0));
  logits.sigmoid_();  // in place on the device accumulator; watershed quantises per channel
  watershed.spacing_dhw = image.geometry.spacing_dhw();
  io::Volume out;
  out.data = segment_affinities(logits, watershed).unsqueeze(0);
  out.geometry = image.geometry;
  out.source = image.source;
  return out;
}

fs::path prediction_path(const fs::path& out_dir, const fs::path& source) {
  const std::string name = source.filename().string();
  const std::string id = io::strip_volume_extension(source);
  GTGM_CHECK(!id.empty() && name.size() > id.size(), "predict: {} has no volume extension to write the prediction in",
             source.string());
  return out_dir / (id + name.substr(id.size()));
}

void write_prediction(const io::Volume& prediction, const fs::path& path) {
  if (io::split_hdf5_path(path.string())) {
    auto h5 = *io::split_hdf5_path(path.string());
    io::Hdf5WriteOptions o;
    o.dtype = "uint64";
    io::write_hdf5_volume(h5.first, h5.second.empty() ? "volumes/labels/neuron_ids" : h5.second, prediction, o);
    return;
  }
  io::write_volume(prediction, path);
}

fs::path cached_prediction_path(const fs::path& out_dir, const data::CacheEntry& entry) {
  // source_image lists the channel files separated by commas; the first names the format.
  std::string first = entry.source_image.substr(0, entry.source_image.find(','));
  std::string ext = ".nii.gz";
  if (!first.empty() && io::has_volume_extension(first) && fs::path(first).extension() != ".dcm") {
    const std::string name = fs::path(first).filename().string();
    ext = name.substr(io::strip_volume_extension(first).size());
  }
  return out_dir / (entry.id + ext);
}

}  // namespace gtgm::infer
