#include "gtgm/infer/predict_cached.h"

#include "gtgm/core/error.h"
#include "gtgm/data/spatial.h"
#include "gtgm/io/volume_io.h"

namespace gtgm::infer {

namespace fs = std::filesystem;

io::Volume predict_to_source(const torch::Tensor& cached_image, const data::CacheHeader& header,
                             const ForwardFn& predictor, const SlidingWindowOptions& options) {
  GTGM_CHECK(cached_image.defined() && cached_image.dim() == 4, "predict: expected a cached image [C, d, h, w], got {}",
             cached_image.defined() ? cached_image.sizes() : c10::IntArrayRef{});
  torch::Tensor labels = sliding_window_segment(cached_image.to(torch::kFloat), predictor, options).unsqueeze(0);
  return data::restore_to_source(labels, header, data::RestoreInterp::Nearest, 0.0);
}

io::Volume predict_cached_case(const data::CacheCase& c, const ForwardFn& predictor,
                               const SlidingWindowOptions& options) {
  io::Volume v = predict_to_source(c.image.tensor(), c.image.header(), predictor, options);
  v.source = c.entry.source_image;
  return v;
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
