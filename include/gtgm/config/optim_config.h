#pragma once
#include <string>
#include <vector>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `optim.name`.
enum class OptimizerName { AdamW, SGD };
template <>
struct EnumNames<OptimizerName> {
  static constexpr std::pair<OptimizerName, const char*> items[] = {{OptimizerName::AdamW, "adamw"},
                                                                    {OptimizerName::SGD, "sgd"}};
};

/// `optim.schedule`: the learning-rate schedule.
enum class Schedule { CosineRestarts, Cosine, Poly, Constant };
template <>
struct EnumNames<Schedule> {
  static constexpr std::pair<Schedule, const char*> items[] = {{Schedule::CosineRestarts, "cosine_restarts"},
                                                               {Schedule::Cosine, "cosine"},
                                                               {Schedule::Poly, "poly"},
                                                               {Schedule::Constant, "constant"}};
};

/// `optim:` optimiser and learning-rate schedule.
struct OptimConfig {
  OptimizerName name = OptimizerName::AdamW;
  double lr = 2e-5;
  double weight_decay = 0.05;
  std::vector<double> betas = {0.9, 0.999};
  double momentum = 0.9;
  double eps = 1e-8;
  double grad_clip = 1.0;
  int accumulation = 1;
  Schedule schedule = Schedule::CosineRestarts;
  int warmup_steps = 0;
  int restart_period = 10000;
  double restart_mult = 1.0;
  double min_lr = 0.0;
  double poly_power = 0.9;

  template <class V>
  void visit(V& v) {
    v.field("name", name, "Optimiser (no weight decay on norms and biases).");
    v.field("lr", lr, "Peak learning rate (paper: 2e-5 pretraining, 1e-5 fine-tuning).", gt(0));
    v.field("weight_decay", weight_decay, "Decoupled weight decay (paper: 0.05).", ge(0));
    v.field("betas", betas, "AdamW betas.", between(0, 1).length(2));
    v.field("momentum", momentum, "SGD momentum (Nesterov).", between(0, 1));
    v.field("eps", eps, "AdamW epsilon.", gt(0));
    v.field("grad_clip", grad_clip, "Max global gradient norm; 0 = off.", ge(0));
    v.field("accumulation", accumulation, "Micro-steps per optimiser step.", ge(1));
    v.field("schedule", schedule, "Learning-rate schedule.");
    v.field("warmup_steps", warmup_steps, "Linear warmup steps.", ge(0));
    v.field("restart_period", restart_period, "First cosine period T_0 in steps (cosine_restarts).", ge(1));
    v.field("restart_mult", restart_mult, "Period multiplier T_mult after each restart.", ge(1));
    v.field("min_lr", min_lr, "Floor of cosine schedules.", ge(0));
    v.field("poly_power", poly_power, "Exponent of the poly schedule (nnU-Net: 0.9).", gt(0));
  }
};

}  // namespace gtgm::config
