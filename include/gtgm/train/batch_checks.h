#pragma once
/// Start-of-run checks of a pretraining batch against the parts of the objective that normalise
/// over it. Two samples are a degenerate case, not just a noisy one:
///  - a feature standardised over 2 samples is +-c / sqrt(c^2 + eps), i.e. +-1 up to eps, so the
///    standardised Barlow Twins cross-correlation has every entry +-1: the loss only counts sign
///    agreements and its gradient is ~eps (no learning signal);
///  - a BatchNorm1d over 2 samples outputs +-1 (times gamma, plus beta) whatever its input, so the
///    projection heads (and the BYOL/SimSiam predictor) pass ~no gradient to what lies before them.
/// The reference code trains with 2 per GPU on several GPUs and SyncBatchNorm
/// (pretrain/main.py:70), and its Barlow term is unstandardised (utils_trainer.py:130-142).
#include <cstdint>
#include <string>
#include <vector>

#include "gtgm/config/loss_config.h"
#include "gtgm/config/model_config.h"

namespace gtgm::train {

/// The batch sizes a pretraining run's batch statistics see.
struct BatchLayout {
  int64_t local_batch = 1;  ///< data.batch_size (samples per process and step)
  int world_size = 1;       ///< processes
  /// Whether BatchNorm statistics span all processes (synchronised BatchNorm); false = each
  /// process normalises its own local batch.
  bool bn_synced = false;
  int64_t global_batch() const { return local_batch * world_size; }
  /// Samples one BatchNorm of the heads normalises over.
  int64_t bn_batch() const { return bn_synced ? global_batch() : local_batch; }
};

/// One warning per part of `loss` / `model` that the batch makes degenerate (empty when none):
/// standardised Barlow Twins over a global batch <= 2, and the BatchNorm of the projection heads
/// (when loss.vlp_weight > 0) or of the BYOL/SimSiam predictor over <= 2 samples. Each names the
/// batch (data.batch_size x processes), what breaks, and what to do.
std::vector<std::string> small_batch_warnings(const config::ModelConfig& model, const config::LossConfig& loss,
                                              const BatchLayout& batch);

}  // namespace gtgm::train
