#pragma once
/// A trained segmentation network together with how it was trained, as nnU-Net's nnUNetPredictor:
/// give it a volume as read from disk and it returns the labels on that volume's own voxel grid.
/// predict(): the training plan's preprocessing (reorient, crop to nonzero, normalise, resample;
/// data::preprocess_case) -> sliding window -> argmax (segmentation) or sigmoid + watershed +
/// agglomeration (EM affinities) -> data::restore_to_source (nearest neighbour, background outside
/// the crop). Fine-tuning validation, the held-out prediction after fine-tuning and
/// app::load_predictor (a run dir or checkpoint) all predict through this class.
#include <torch/torch.h>

#include <array>
#include <optional>
#include <vector>

#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/plan.h"
#include "gtgm/infer/sliding_window.h"
#include "gtgm/infer/watershed.h"
#include "gtgm/io/volume.h"

namespace gtgm::infer {

/// What the network's outputs mean.
enum class PredictionKind {
  Segmentation,  ///< K class logits -> argmax labels 0..K-1
  Affinity,      ///< 3 affinity logits (z, y, x) -> sigmoid -> watershed + agglomeration -> instance ids
};

struct PredictorOptions {
  PredictionKind kind = PredictionKind::Segmentation;
  SlidingWindowOptions window;
  /// Affinity: seed and merge threshold of the watershed and agglomeration.
  double affinity_threshold = 0.5;
  /// Affinity: the agglomeration edge score (finetune.affinity_merge).
  config::AffinityMerge affinity_merge = config::AffinityMerge::Mean;
};

/// The result of Predictor::predict.
struct Prediction {
  /// [1, D, H, W] on the source grid with the source geometry: class labels (uint8, int16 beyond
  /// 256 classes), or int64 instance ids (background 0) for affinities.
  io::Volume labels;
  /// When asked for: softmax probabilities [K, d, h, w] (segmentation) or affinities [3, d, h, w]
  /// in [0, 1], float32 on the CPU, on the preprocessed (network) grid.
  torch::Tensor probabilities;
  /// The preprocessed (network) grid: data::restore_to_source(probabilities, grid,
  /// RestoreInterp::Linear) brings the probabilities onto the source grid.
  data::CacheHeader grid;
};

class Predictor {
 public:
  /// `network` maps a batch of windows to logits (sliding_window.h). `plan` is the preprocessing
  /// plan the network was trained with; without one, predict() of a source volume is refused
  /// (cached cases and preprocessed arrays still work).
  Predictor(ForwardFn network, PredictorOptions options, std::optional<data::Plan> plan = std::nullopt);
  /// An ensemble: the members' probabilities are averaged (see above). At least one network.
  Predictor(std::vector<ForwardFn> networks, PredictorOptions options, std::optional<data::Plan> plan = std::nullopt);

  const PredictorOptions& options() const { return options_; }
  const std::optional<data::Plan>& plan() const { return plan_; }
  /// Networks averaged (1 for a single model).
  size_t members() const { return networks_.size(); }

  /// Labels of a preprocessed image [C, d, h, w] on its own grid: [d, h, w] on the CPU (dtypes as
  /// Prediction::labels). `spacing_dhw`
  /// (mm) shapes the watershed's seed distance map (affinities only). With `probabilities`, also
  /// returns the per-voxel probabilities there (see Prediction::probabilities; the ensemble's
  /// mean for several members).
  torch::Tensor segment(const torch::Tensor& image, const std::array<double, 3>& spacing_dhw,
                        torch::Tensor* probabilities = nullptr) const;

  /// A case of an opened preprocessing cache -> labels on its source grid ([1, D, H, W],
  /// Volume::source = the case's source image).
  io::Volume predict_cached(const data::CacheCase& c) const;

  /// A volume as read from disk ([C, D, H, W], C = the channels the network was trained on) ->
  /// its prediction on its own grid. Throws naming the shape when the channels do not match.
  Prediction predict(const io::Volume& image, bool probabilities = false) const;

 private:
  std::vector<ForwardFn> networks_;
  PredictorOptions options_;
  std::optional<data::Plan> plan_;
};

}  // namespace gtgm::infer
