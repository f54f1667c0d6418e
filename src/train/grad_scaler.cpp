#include "gtgm/train/grad_scaler.h"

#include "gtgm/core/error.h"

namespace gtgm::train {

GradScaler::GradScaler(bool enabled, const torch::Device& device, const GradScalerOptions& options)
    : enabled_(enabled), device_(device), options_(options) {
  GTGM_CHECK(options.init_scale > 0 && options.growth_factor > 1 && options.backoff_factor > 0 &&
                 options.backoff_factor < 1 && options.growth_interval >= 1,
             "grad scaler: need init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1, growth_interval >= 1 "
             "(got {}, {}, {}, {})",
             options.init_scale, options.growth_factor, options.backoff_factor, options.growth_interval);
  const auto f = torch::TensorOptions().dtype(torch::kFloat).device(device);
  scale_ = torch::full({1}, enabled ? options.init_scale : 1.0, f);
  growth_tracker_ = torch::zeros({1}, f.dtype(torch::kInt));
  found_inf_ = torch::zeros({1}, f);
}

torch::Tensor GradScaler::scale(const torch::Tensor& loss) const {
  if (!enabled_) return loss;
  return loss * scale_.to(loss.scalar_type()).squeeze(0);
}

void GradScaler::unscale_(const std::vector<torch::Tensor>& grads) {
  if (!enabled_) return;
  GTGM_CHECK(!unscaled_, "grad scaler: unscale_ called twice in one step (call update() after each step)");
  unscaled_ = true;
  const torch::Tensor inv_scale = scale_.to(torch::kDouble).reciprocal().to(torch::kFloat);
  if (grads.empty()) return;
  if (device_.is_cuda()) {
    // Fused kernel: unscales every gradient and sets found_inf, without a host round trip.
    at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, inv_scale);
    return;
  }
  // CPU (tests; LibTorch 1.13 has no CPU kernel for the fused op): the same maths, op by op.
  for (const auto& g : grads) {
    found_inf_.logical_or_(g.isfinite().logical_not().any().reshape({1})).clamp_max_(1);
    g.mul_(inv_scale.to(g.scalar_type()));
  }
}

void GradScaler::update() {
  if (!enabled_) return;
  unscaled_ = false;
  if (device_.is_cuda()) {
    at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, options_.growth_factor, options_.backoff_factor,
                           options_.growth_interval);
  } else {
    const torch::Tensor inf = found_inf_ > 0;
    const torch::Tensor next = growth_tracker_ + 1;
    const torch::Tensor grow = next >= options_.growth_interval;
    scale_.copy_(torch::where(inf, scale_ * options_.backoff_factor,
                              torch::where(grow, scale_ * options_.growth_factor, scale_)));
    growth_tracker_.copy_(torch::where(inf.logical_or(grow), torch::zeros_like(next), next));
  }
  found_inf_.zero_();
}

double GradScaler::current_scale() const { return scale_.item<double>(); }

nlohmann::json GradScaler::state() const {
  return {{"enabled", enabled_},
          {"scale", scale_.item<double>()},
          {"growth_tracker", growth_tracker_.item<int64_t>()},
          {"growth_factor", options_.growth_factor},
          {"backoff_factor", options_.backoff_factor},
          {"growth_interval", options_.growth_interval}};
}

void GradScaler::load_state(const nlohmann::json& s) {
  const bool was_enabled = s.at("enabled").get<bool>();
  GTGM_CHECK(was_enabled == enabled_,
             "grad scaler state was saved {} loss scaling but this run has it {} (run.precision differs?)",
             was_enabled ? "with" : "without", enabled_ ? "on" : "off");
  if (!enabled_) return;
  GTGM_CHECK(s.at("growth_factor").get<double>() == options_.growth_factor &&
                 s.at("backoff_factor").get<double>() == options_.backoff_factor &&
                 s.at("growth_interval").get<int64_t>() == options_.growth_interval,
             "grad scaler state was saved with other options ({}) than this run's", s.dump());
  scale_.fill_(s.at("scale").get<double>());
  growth_tracker_.fill_(s.at("growth_tracker").get<int64_t>());
  found_inf_.zero_();
  unscaled_ = false;
}

}  // namespace gtgm::train
