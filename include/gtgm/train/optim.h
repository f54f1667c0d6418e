#pragma once
/// Optimisers with parameter groups (AdamW / SGD from LibTorch), their state as named tensors for
/// checkpoints, and device-side gradient norm and clipping (no host synchronisation).
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "gtgm/config/optim_config.h"
#include "gtgm/io/safetensors.h"

namespace gtgm::train {

/// Whether a parameter gets weight decay: not for biases (name ends in "bias") nor for any
/// parameter with fewer than 2 dimensions (norm scales/shifts, learnable temperature, ...).
bool uses_weight_decay(const std::string& name, const torch::Tensor& param);

/// The optimiser of a run: the trainable parameters of a module (requires_grad) in two groups,
/// [0] with `optim.weight_decay` and [1] without (see uses_weight_decay).
class Optimizer {
 public:
  /// Builds `optim.name` (adamw | sgd with Nesterov momentum) over `module`'s trainable parameters.
  /// Throws when the module has none.
  Optimizer(const config::OptimConfig& optim, torch::nn::Module& module);

  /// Sets the learning rate of every group.
  void set_lr(double lr);
  /// One update of the parameters from their current gradients.
  void step();
  /// Drops every gradient (set to undefined, like zero_grad(set_to_none=True)).
  void zero_grad();
  /// The defined gradients of the trained parameters, in parameter order.
  std::vector<torch::Tensor> grads() const;

  /// Names (module paths) and tensors of the trained parameters, group 0 first.
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<torch::Tensor>& params() const { return params_; }
  /// Number of parameters with / without weight decay.
  size_t num_decay() const { return num_decay_; }
  /// "adamw: 12 tensors (1.2M values) with weight decay 0.05, 20 tensors (3.1K values) without".
  std::string summary() const;
  torch::optim::Optimizer& torch_optimizer() { return *opt_; }

  /// Per-parameter state as tensors keyed "<param name>.<state name>" (AdamW: exp_avg, exp_avg_sq;
  /// SGD: momentum_buffer) and a JSON description (optimiser name, groups, per-parameter step
  /// counts). Parameters that never took a step have no entry.
  io::NamedTensors state_tensors() const;
  nlohmann::json state_meta() const;
  /// Restores what state_tensors()/state_meta() returned. Throws, naming the keys, when the saved
  /// optimiser, parameter names or shapes do not match this one.
  void load_state(const io::NamedTensors& tensors, const nlohmann::json& meta);

 private:
  config::OptimizerName kind_;
  std::vector<std::string> names_;
  std::vector<torch::Tensor> params_;
  size_t num_decay_ = 0;
  double weight_decay_ = 0;
  std::unique_ptr<torch::optim::Optimizer> opt_;
};

/// Global L2 norm of `grads` as a device float scalar (no host synchronisation); 0 when empty.
torch::Tensor global_grad_norm(const std::vector<torch::Tensor>& grads);
/// Scales `grads` in place by min(1, max_norm / (norm + 1e-6)) on the device, like
/// torch.nn.utils.clip_grad_norm_ (a non-finite norm leaves NaN/Inf gradients, which the trainer
/// detects and skips).
void clip_grads_(const std::vector<torch::Tensor>& grads, const torch::Tensor& norm, double max_norm);

}  // namespace gtgm::train
