#include "gtgm/infer/predictor.h"

#include "gtgm/core/error.h"
#include "gtgm/data/preprocess.h"
#include "gtgm/data/spatial.h"
#include "gtgm/infer/watershed.h"

namespace gtgm::infer {

Predictor::Predictor(ForwardFn network, PredictorOptions options, std::optional<data::Plan> plan)
    : Predictor(std::vector<ForwardFn>{std::move(network)}, std::move(options), std::move(plan)) {}

Predictor::Predictor(std::vector<ForwardFn> networks, PredictorOptions options, std::optional<data::Plan> plan)
    : networks_(std::move(networks)), options_(std::move(options)), plan_(std::move(plan)) {
  GTGM_CHECK(!networks_.empty(), "Predictor: no network given");
  for (size_t i = 0; i < networks_.size(); ++i)
    GTGM_CHECK(static_cast<bool>(networks_[i]), "Predictor: network {} of {} is empty", i + 1, networks_.size());
  GTGM_CHECK(!(options_.kind == PredictionKind::Affinity && options_.window.mirror_tta),
             "Predictor: mirror TTA is not defined for affinity outputs (an affinity links a voxel to its "
             "previous neighbour, so a flipped prediction is shifted by one voxel); turn eval.mirror_tta off");
}

torch::Tensor Predictor::segment(const torch::Tensor& image, const std::array<double, 3>& spacing_dhw,
                                 torch::Tensor* probabilities) const {
  GTGM_CHECK(image.defined() && image.dim() == 4, "Predictor: expected a preprocessed image [C, d, h, w], got {}",
             image.defined() ? image.sizes() : c10::IntArrayRef{});
  const torch::Tensor x = image.to(torch::kFloat);
  const bool affinity = options_.kind == PredictionKind::Affinity;
  if (!affinity && networks_.size() == 1 && probabilities == nullptr)
    return sliding_window_segment(x, networks_[0], options_.window);  // argmax slab by slab, no K x volume copy
  // Mean over the members of their probabilities (softmax over classes, sigmoid for affinities).
  torch::Tensor mean;
  for (size_t m = 0; m < networks_.size(); ++m) {
    torch::Tensor out = sliding_window_inference(x, networks_[m], options_.window).to(torch::kFloat);
    GTGM_CHECK(!affinity || out.size(0) == 3,
               "Predictor: an affinity network must give 3 channels (z, y, x), got {} (member {} of {})", out.sizes(),
               m + 1, networks_.size());
    GTGM_CHECK(!mean.defined() || out.sizes() == mean.sizes(),
               "Predictor: ensemble member {} gives outputs {}, member 1 gave {} (members must predict the same "
               "classes)",
               m + 1, out.sizes(), mean.sizes());
    out = affinity ? out.sigmoid_() : torch::softmax(out, 0);
    mean = mean.defined() ? mean.add_(out) : out;
  }
  if (networks_.size() > 1) mean.div_(static_cast<double>(networks_.size()));
  // A copy: the watershed below may work in place on its input.
  if (probabilities != nullptr)
    *probabilities = mean.to(torch::kCPU, torch::kFloat, /*non_blocking=*/false, /*copy=*/true);
  if (!affinity) return argmax_labels(mean);
  WatershedOptions w;
  w.seed_threshold = options_.affinity_threshold;
  w.merge_threshold = options_.affinity_threshold;
  w.merge = options_.affinity_merge;
  w.spacing_dhw = spacing_dhw;
  return segment_affinities(mean, w);
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
  out.grid = pre.header;
  return out;
}

}  // namespace gtgm::infer
