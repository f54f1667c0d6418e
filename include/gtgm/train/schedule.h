#pragma once
/// Learning-rate schedules as pure functions of the optimiser step, so a resumed run needs only the
/// step to continue the exact curve (no scheduler object state to drift or to lose).
#include <cstdint>
#include <string>

#include "gtgm/config/optim_config.h"

namespace gtgm::train {

/// The learning rate used by optimiser step `step` (0-based) of a run of `total_steps` steps.
/// Every schedule starts with `optim.warmup_steps` of linear warmup, lr * (step + 1) / warmup, then
/// over t = step - warmup in [0, T = total_steps - warmup):
///  - constant:        lr
///  - cosine:          min_lr + (lr - min_lr) * (1 + cos(pi * t / T)) / 2
///  - cosine_restarts: SGDR (Loshchilov & Hutter): the cosine above restarted at the end of each
///                     period; the first period is restart_period (T_0) steps and each next one is
///                     restart_mult (T_mult) times longer; matches torch.optim.lr_scheduler.
///                     CosineAnnealingWarmRestarts(T_0, T_mult, eta_min=min_lr) for integer T_mult
///  - poly:            min_lr + (lr - min_lr) * (1 - t / T) ^ poly_power (nnU-Net: 0.9)
/// Steps at or past `total_steps` get the value at total_steps - 1. Throws for an unknown name.
double learning_rate(const config::OptimConfig& optim, int64_t step, int64_t total_steps);

/// Where step `step` lies in SGDR: the restart index, the step inside the period and its length.
struct RestartPosition {
  int64_t cycle = 0;
  double t_cur = 0;
  double t_i = 1;
};
/// SGDR position of `t` steps after warmup with first period `t0` and multiplier `t_mult` (>= 1).
RestartPosition restart_position(double t, double t0, double t_mult);

/// Whether the schedule's curve depends on train.steps (cosine and poly do; constant and
/// cosine_restarts do not): changing train.steps on resume then changes the learning rate.
bool schedule_depends_on_total(config::Schedule schedule);

}  // namespace gtgm::train
