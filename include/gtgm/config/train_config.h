#pragma once
#include <cstdint>
#include <string>
#include <vector>

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
  double loss_scale_init = 65536.0;
  int loss_scale_growth_interval = 2000;
  std::vector<std::string> mix_datasets = {};

  template <class V>
  void visit(V& v) {
    v.field("steps", steps, "Optimiser steps (paper: 200k pretraining, 40k fine-tuning).", ge(1));
    v.field("log_every", log_every, "Steps between metric lines (loss sums are read back from the device only then).",
            ge(1));
    v.field("checkpoint_every", checkpoint_every, "Steps between checkpoints.", ge(1));
    v.field("keep_last", keep_last, "Newest checkpoints kept (plus the best one).", ge(1));
    v.field("validate_every", validate_every, "Steps between validations (paper: 1000).", ge(1));
    v.field("max_nonfinite", max_nonfinite, "Consecutive NaN/Inf losses (steps skipped) before stopping.", ge(1));
    v.field("channels_last", channels_last, "channels-last-3d memory format on CUDA.");
    v.field("cudnn_benchmark", cudnn_benchmark, "cuDNN autotuning on CUDA.");
    v.field("loss_scale_init", loss_scale_init, "fp16 only: initial loss scale of the grad scaler (torch: 2^16).",
            gt(0));
    v.field("loss_scale_growth_interval", loss_scale_growth_interval,
            "fp16 only: overflow-free steps before the loss scale doubles (torch: 2000).", ge(1));
    v.field("mix_datasets", mix_datasets,
            "Pretraining on several datasets: config files whose data: section names one more preprocessed dataset "
            "each (own root, modality, cache and crop size); batches alternate between data: and these, in order.");
    v.field("init", init, "Encoder weights to start from (checkpoint dir or safetensors); empty = random.");
  }
};

}  // namespace gtgm::config
