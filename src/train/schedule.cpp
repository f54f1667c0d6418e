#include "gtgm/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "gtgm/core/error.h"

namespace gtgm::train {
namespace {
constexpr double kPi = 3.14159265358979323846;

double cosine(double lr, double min_lr, double t, double period) {
  return min_lr + (lr - min_lr) * (1.0 + std::cos(kPi * t / period)) / 2.0;
}
}  // namespace

RestartPosition restart_position(double t, double t0, double t_mult) {
  RestartPosition p;
  if (t_mult == 1.0) {
    p.cycle = static_cast<int64_t>(std::floor(t / t0));
    p.t_cur = t - static_cast<double>(p.cycle) * t0;
    p.t_i = t0;
    return p;
  }
  // Period n lasts t0 * t_mult^n and starts at t0 * (t_mult^n - 1) / (t_mult - 1): the same closed
  // form torch's CosineAnnealingWarmRestarts uses when given an epoch.
  int64_t n = static_cast<int64_t>(std::floor(std::log(t / t0 * (t_mult - 1.0) + 1.0) / std::log(t_mult)));
  auto start = [&](int64_t k) { return t0 * (std::pow(t_mult, static_cast<double>(k)) - 1.0) / (t_mult - 1.0); };
  // Guard the floor against rounding at exact period boundaries.
  while (n > 0 && start(n) > t) --n;
  while (start(n + 1) <= t) ++n;
  p.cycle = n;
  p.t_cur = t - start(n);
  p.t_i = t0 * std::pow(t_mult, static_cast<double>(n));
  return p;
}

bool schedule_depends_on_total(config::Schedule schedule) {
  return schedule == config::Schedule::Cosine || schedule == config::Schedule::Poly;
}

double learning_rate(const config::OptimConfig& o, int64_t step, int64_t total_steps) {
  GTGM_CHECK(total_steps >= 1, "learning_rate: total_steps must be >= 1, got {}", total_steps);
  GTGM_CHECK(step >= 0, "learning_rate: step must be >= 0, got {}", step);
  step = std::min(step, total_steps - 1);
  const int64_t warmup = o.warmup_steps;
  if (step < warmup) return o.lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double t = static_cast<double>(step - warmup);
  const double period = static_cast<double>(std::max<int64_t>(1, total_steps - warmup));
  switch (o.schedule) {
    case config::Schedule::Constant:
      return o.lr;
    case config::Schedule::Cosine:
      return cosine(o.lr, o.min_lr, t, period);
    case config::Schedule::Poly:
      return o.min_lr + (o.lr - o.min_lr) * std::pow(1.0 - t / period, o.poly_power);
    case config::Schedule::CosineRestarts: {
      const RestartPosition p = restart_position(t, o.restart_period, o.restart_mult);
      return cosine(o.lr, o.min_lr, p.t_cur, p.t_i);
    }
  }
  GTGM_THROW("optim.schedule: unknown schedule {}; expected one of: cosine_restarts, cosine, poly, constant",
             static_cast<int>(o.schedule));
}

}  // namespace gtgm::train
