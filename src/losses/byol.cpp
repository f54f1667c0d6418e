#include "gtgm/losses/byol.h"

#include <cmath>

#include "gtgm/core/error.h"

namespace gtgm::losses {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Pairs target and online tensors by name, checking that the two modules match.
template <class Fn>
void for_each_pair(const torch::OrderedDict<std::string, torch::Tensor>& target,
                   const torch::OrderedDict<std::string, torch::Tensor>& online, const char* what, Fn fn) {
  GTGM_CHECK(target.size() == online.size(), "ema_update_: target has {} {} but online has {}", target.size(), what,
             online.size());
  for (const auto& item : online) {
    const torch::Tensor* t = target.find(item.key());
    GTGM_CHECK(t != nullptr, "ema_update_: {} '{}' of the online network is missing in the target", what, item.key());
    GTGM_CHECK(t->sizes() == item.value().sizes(), "ema_update_: {} '{}' has shape {} in the target but {} online",
               what, item.key(), t->sizes(), item.value().sizes());
    fn(*t, item.value());
  }
}

}  // namespace

PredictorImpl::PredictorImpl(const PredictorOptions& o) {
  GTGM_CHECK(o.dim > 0 && o.hidden > 0, "Predictor: dim and hidden must be > 0, got {} and {}", o.dim, o.hidden);
  fc1_ = register_module("fc1", torch::nn::Linear(o.dim, o.hidden));
  bn_ = register_module("bn", torch::nn::BatchNorm1d(o.hidden));
  fc2_ = register_module("fc2", torch::nn::Linear(o.hidden, o.dim));
}

torch::Tensor PredictorImpl::forward(const torch::Tensor& x) {
  GTGM_CHECK(x.dim() == 2 && x.size(1) == fc1_->options.in_features(), "Predictor: expected [N, {}], got {}",
             fc1_->options.in_features(), x.sizes());
  return fc2_(torch::relu(bn_(fc1_(x))));
}

double byol_momentum(int64_t step, int64_t total_steps, double base) {
  GTGM_CHECK(total_steps > 0, "byol_momentum: total_steps must be > 0, got {}", total_steps);
  GTGM_CHECK(base >= 0 && base <= 1, "byol_momentum: base must be in [0, 1], got {}", base);
  const double k = std::clamp<double>(static_cast<double>(step), 0.0, static_cast<double>(total_steps));
  return 1.0 - (1.0 - base) * (std::cos(kPi * k / static_cast<double>(total_steps)) + 1.0) / 2.0;
}

void ema_update_(torch::nn::Module& target, const torch::nn::Module& online, double momentum) {
  GTGM_CHECK(momentum >= 0 && momentum <= 1, "ema_update_: momentum must be in [0, 1], got {}", momentum);
  torch::NoGradGuard no_grad;
  for_each_pair(target.named_parameters(), online.named_parameters(), "parameter",
                [&](const torch::Tensor& t, const torch::Tensor& o) {
                  torch::Tensor tt = t;
                  tt.mul_(momentum).add_(o.detach(), 1.0 - momentum);
                });
  for_each_pair(target.named_buffers(), online.named_buffers(), "buffer", [&](const torch::Tensor& t, const torch::Tensor& o) {
    torch::Tensor tt = t;
    tt.copy_(o);
  });
}

void init_target_(torch::nn::Module& target, const torch::nn::Module& online) {
  ema_update_(target, online, 0.0);
  for (auto& p : target.parameters()) p.set_requires_grad(false);
}

}  // namespace gtgm::losses
