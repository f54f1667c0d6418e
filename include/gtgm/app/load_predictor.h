#pragma once
/// An infer::Predictor from a fine-tuning run, as nnU-Net's nnUNetPredictor.initialize_from_
/// trained_model_folder: the checkpoint's own config.yaml rebuilds the network and says how to
/// predict (eval: sliding window, data.crop_size windows, finetune.task and affinity threshold),
/// and the run's plan.json (or, for runs made before it was kept there, its cache's) says how to
/// preprocess a new image.
#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/core/device.h"
#include "gtgm/infer/predictor.h"
#include "gtgm/models/gtgm_model.h"

namespace gtgm::app {

/// The network function of a segmentation model for infer::Predictor: windows to `device`
/// (channels-last-3d when asked), forward under autocast at `precision`, float32 logits.
infer::ForwardFn network_forward(models::SegmentationModel model, const torch::Device& device,
                                 core::Precision precision, bool channels_last = false);

/// What a fine-tuning config's outputs mean (finetune.task).
infer::PredictionKind prediction_kind(const config::Config& cfg);

/// How a fine-tuning config predicts on `device`: the eval: section's sliding window with
/// data.crop_size windows, finetune.affinity_threshold for EM.
infer::PredictorOptions predictor_options(const config::Config& cfg, const torch::Device& device);

struct LoadedPredictor {
  config::Config config;             ///< the checkpoint's config.yaml
  std::filesystem::path checkpoint;  ///< whose weights are loaded
  models::SegmentationModel model;   ///< in eval mode on the device
  infer::Predictor predictor;
};

/// From a fine-tuning run dir (its best checkpoint on validation, else its newest valid one) or a
/// checkpoint dir. The weights load strictly; a pretraining checkpoint is refused naming what it
/// holds. Without a plan.json beside the run or in its cache, predict() of a source volume is
/// refused (cached cases still work).
LoadedPredictor load_predictor(const std::filesystem::path& run_or_checkpoint, const torch::Device& device);

/// Several trained networks predicting as one (infer::Predictor's ensemble: probabilities averaged).
struct LoadedEnsemble {
  std::vector<LoadedPredictor> members;  ///< each member on its own, in the order given
  infer::Predictor predictor;            ///< all members averaged
};

/// The model dirs a user names: a fine-tuning run dir or checkpoint dir stands for itself; a
/// folder that is neither but holds fold_0, fold_1, ... run dirs (`gtgm finetune --fold all`)
/// stands for those folds, in fold order. Throws naming a path that is none of these.
std::vector<std::filesystem::path> expand_model_dirs(const std::vector<std::filesystem::path>& paths);

/// An ensemble of the runs (after expand_model_dirs). The members must agree on what they predict
/// and how: the task, the classes, the preprocessing plan and the sliding window; an error names
/// the two runs and what differs. `mirror_tta` turns mirror TTA on for every member (nullopt: as
/// each run's eval.mirror_tta says).
LoadedEnsemble load_ensemble(const std::vector<std::filesystem::path>& runs, const torch::Device& device,
                             std::optional<bool> mirror_tta = std::nullopt);

}  // namespace gtgm::app
