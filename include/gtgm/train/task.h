#pragma once
/// The interface between the generic step loop (train::Trainer) and what is trained: a Task turns
/// batches into named losses. Pretraining (PretrainTask), segmentation fine-tuning and EM
/// affinities are Tasks; the Trainer owns everything else (optimiser, schedule, precision,
/// accumulation, clipping, checkpoints, metrics, signals).
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <any>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtgm/core/device.h"

namespace gtgm::train {

/// One host-side batch, type-erased: each task stores and reads back its own batch type.
struct Batch {
  std::any value;
  int64_t samples = 0;  ///< samples in this batch (for samples/s)
};

/// The losses of one micro-batch.
struct Losses {
  /// Scalar float loss that is back-propagated.
  torch::Tensor total;
  /// Scalar terms logged as `loss/<name>` (e.g. clip_v1, clip_v2, barlow); detached by the trainer.
  std::vector<std::pair<std::string, torch::Tensor>> terms;
};

/// How the current step runs: device, precision and the CUDA options.
struct StepContext {
  torch::Device device = torch::kCPU;
  core::Precision precision = core::Precision::FP32;
  /// Host-to-device copies with non_blocking=true (pinned host memory on CUDA).
  bool non_blocking = false;
  /// 5-D float inputs in channels-last-3d memory format (CUDA).
  bool channels_last = false;
  /// The optimiser step being computed (0-based) and the micro-step inside it.
  int64_t step = 0;
  int micro_step = 0;

  /// An autocast region at this step's precision (nothing for fp32). Tasks open it around the
  /// model forward and compute losses outside it in fp32.
  std::unique_ptr<core::AutocastGuard> autocast() const {
    return std::make_unique<core::AutocastGuard>(device, precision);
  }
  /// Moves a host tensor to the device; 5-D floating tensors become channels-last-3d when asked.
  torch::Tensor to_device(const torch::Tensor& t) const {
    torch::Tensor out = t.to(device, /*non_blocking=*/non_blocking && device.is_cuda());
    if (channels_last && out.dim() == 5 && out.is_floating_point()) {
      out = out.contiguous(at::MemoryFormat::ChannelsLast3d);
    }
    return out;
  }
};

/// The result of a validation pass.
struct Validation {
  /// Logged as `val/<name>`.
  std::vector<std::pair<std::string, double>> metrics;
  /// Decides the kept "best" checkpoint.
  double score = 0;
  bool higher_is_better = true;
};

/// What the Trainer trains. Implementations hold their data loader, model and loss.
class Task {
 public:
  virtual ~Task() = default;
  /// Short name for logs ("pretrain", "segmentation").
  virtual std::string name() const = 0;
  /// The trained module: its named parameters and buffers are the checkpoint's weights (keys are
  /// module paths, e.g. "encoder.stem.conv.weight"); parameters with requires_grad are optimised.
  virtual torch::nn::Module& module() = 0;
  /// The next training batch on the host. Time spent here is reported as data wait.
  virtual Batch next_batch() = 0;
  /// Forward and losses of one micro-batch. Called in train mode with grad enabled and outside
  /// autocast (use ctx.autocast() around the model forward).
  virtual Losses compute(const Batch& batch, const StepContext& ctx) = 0;
  /// Called after each applied optimiser step (e.g. an EMA target update), with the step done.
  virtual void after_step(int64_t step) {}
  /// Whether validate() evaluates anything.
  virtual bool has_validation() const { return false; }
  /// A validation pass (the trainer puts module() in eval mode and no-grad around it).
  virtual Validation validate(int64_t step, const StepContext& ctx) { return {}; }
  /// Everything besides module() and the global RNGs needed for an exact resume: loader position,
  /// task-owned RNG streams, counters. Stored as loader.json in each checkpoint.
  virtual nlohmann::json state() const { return nlohmann::json::object(); }
  /// Restores what state() returned.
  virtual void restore(const nlohmann::json& state) {}
};

}  // namespace gtgm::train
