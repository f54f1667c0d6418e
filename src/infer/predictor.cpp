#include "gtgm/infer/predictor.h"

#include "gtgm/core/error.h"
#include "gtgm/data/preprocess.h"
#include "gtgm/data/spatial.h"
#include "gtgm/infer/watershed.h"

namespace gtgm::infer {

Predictor::Predictor(ForwardFn network, PredictorOptions options, std::optional<data::Plan> plan)
    : network_(std::move(network)), options_(std::move(options)), plan_(std::move(plan)) {
  GTGM_CHECK(static_cast<bool>(network_), "Predictor: no network given");
}

torch::Tensor Predictor::segment(const torch::Tensor& image, const std::array<double, 3>& spacing_dhw,
                                 torch::Tensor* probabilities) const {
  GTGM_CHECK(image.defined() && image.dim() == 4, "Predictor: expected a preprocessed image [C, d, h, w], got {}",
             image.defined() ? image.sizes() : c10::IntArrayRef{});
  const torch::Tensor x = image.to(torch::kFloat);
  if (options_.kind == PredictionKind::Affinity) {
    torch::Tensor aff = sliding_window_inference(x, network_, options_.window);  // [3, d, h, w]
    GTGM_CHECK(aff.size(0) == 3, "Predictor: an affinity network must give 3 channels (z, y, x), got {}", aff.sizes());
    aff.sigmoid_();
    // A copy: the watershed below may work in place on its input.
    if (probabilities != nullptr)
      *probabilities = aff.to(torch::kCPU, torch::kFloat, /*non_blocking=*/false, /*copy=*/true);
    WatershedOptions w;
    w.seed_threshold = options_.affinity_threshold;
    w.merge_threshold = options_.affinity_threshold;
    w.spacing_dhw = spacing_dhw;
    return segment_affinities(aff, w);
  }
  if (probabilities == nullptr) return sliding_window_segment(x, network_, options_.window);
  const torch::Tensor logits = sliding_window_inference(x, network_, options_.window);  // [K, d, h, w]
  *probabilities = torch::softmax(logits.to(torch::kFloat), 0).to(torch::kCPU);
  return argmax_labels(logits);
}

io::Volume Predictor::predict_cached(const data::CacheCase& c) const {
  const data::CacheHeader& h = c.image.header();
  const torch::Tensor labels = segment(c.image.tensor(), h.geometry.spacing_dhw()).unsqueeze(0);
  io::Volume v = data::restore_to_source(labels, h, data::RestoreInterp::Nearest, 0.0);
  v.source = c.entry.source_image;
  return v;
}

Prediction Predictor::predict(const io::Volume& image, bool probabilities) const {
  GTGM_CHECK(plan_.has_value(),
             "Predictor: no preprocessing plan: a source volume ({}) needs the plan the network was trained with "
             "(plan.json of the run dir or its cache)",
             image.source.empty() ? std::string("in memory") : image.source);
  GTGM_CHECK(image.data.dim() == 4, "Predictor: {}: expected a volume [C, D, H, W], got {}", image.source,
             image.data.sizes());
  const int64_t channels = static_cast<int64_t>(plan_->normalization.size());
  GTGM_CHECK(channels == 0 || image.data.size(0) == channels,
             "Predictor: {} has {} channel(s) (shape {}), the network was trained on {} (plan.json normalization)",
             image.source.empty() ? std::string("the volume") : image.source, image.data.size(0), image.data.sizes(),
             channels);
  const data::PreprocessedCase pre = data::preprocess_case(image, nullptr, *plan_, /*seed=*/0);
  Prediction out;
  const torch::Tensor labels =
      segment(pre.image, pre.header.geometry.spacing_dhw(), probabilities ? &out.probabilities : nullptr);
  out.labels = data::restore_to_source(labels.unsqueeze(0), pre.header, data::RestoreInterp::Nearest, 0.0);
  out.labels.source = image.source;
  return out;
}

}  // namespace gtgm::infer
