#pragma once
/// Whether the pretraining run behind an encoder initialisation saw the data that a fine-tuning run
/// holds out for scoring. For CREMI the held-out part is the slices after finetune.em_train_z of
/// each volume; a pretraining run whose data (or one of its train.mix_datasets) is the same CREMI
/// folder saw them unless its data.em_pretrain_z stops at or before that fraction. `gtgm eval`
/// refuses such a row unless the suite opts in (allow_pretraining_on_test_data).
#include <string>

#include "gtgm/config/config.h"

namespace gtgm::app {

struct PretrainingOverlap {
  enum class Kind { None, Overlap, Unknown };
  Kind kind = Kind::None;
  /// Overlap: what the pretraining run saw and what the fine-tuning run scores; Unknown: why it
  /// cannot be told (an init without a pretraining config: a bare .safetensors file).
  std::string message;
};

/// Checks `init` (a pretraining run dir, checkpoint dir, export dir or weights file; "" = random
/// initialisation, which saw nothing) against the held-out data of `finetune_cfg`.
PretrainingOverlap check_pretraining_overlap(const config::Config& finetune_cfg, const std::string& init);

}  // namespace gtgm::app
