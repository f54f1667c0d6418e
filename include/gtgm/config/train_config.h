#pragma once
#include <cstdint>
#include <string>

#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `train:` the step loop, checkpoints, validation.
struct TrainConfig {
  int64_t steps = 200000;
  int log_every = 50;
  int checkpoint_every = 1000;
  int keep_last = 3;
  int validate_every = 1000;
  int max_nonfinite = 10;
  bool channels_last = false;
  bool cudnn_benchmark = true;
  std::string init = "";

  template <class V>
  void visit(V& v) {
    v.field("steps", steps, "Optimiser steps (paper: 200k pretraining, 40k fine-tuning).", ge(1));
    v.field("log_every", log_every, "Steps between metric lines (the only host syncs in the loop).", ge(1));
    v.field("checkpoint_every", checkpoint_every, "Steps between checkpoints.", ge(1));
    v.field("keep_last", keep_last, "Checkpoints kept besides the best.", ge(1));
    v.field("validate_every", validate_every, "Steps between validations (paper: 1000).", ge(1));
    v.field("max_nonfinite", max_nonfinite, "Consecutive NaN/Inf losses (steps skipped) before stopping.", ge(1));
    v.field("channels_last", channels_last, "channels-last-3d memory format on CUDA.");
    v.field("cudnn_benchmark", cudnn_benchmark, "cuDNN autotuning on CUDA.");
    v.field("init", init, "Encoder weights to start from (checkpoint dir or safetensors); empty = random.");
  }
};

}  // namespace gtgm::config
