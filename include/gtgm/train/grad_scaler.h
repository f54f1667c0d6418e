#pragma once
/// Dynamic loss scaling for fp16 training (LibTorch has no C++ GradScaler): the loss is multiplied
/// by a scale before backward, gradients are unscaled before clipping, steps with inf/NaN
/// gradients are skipped and the scale backs off; after `growth_interval` clean steps it grows.
/// Same algorithm and defaults as torch.cuda.amp.GradScaler; all bookkeeping stays on the device.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gtgm::train {

struct GradScalerOptions {
  double init_scale = 65536.0;  ///< 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

class GradScaler {
 public:
  /// A disabled scaler passes losses through and never finds infs (fp32 / bf16 runs).
  GradScaler(bool enabled, const torch::Device& device, const GradScalerOptions& options = {});

  bool enabled() const { return enabled_; }
  /// loss * scale (the loss itself when disabled).
  torch::Tensor scale(const torch::Tensor& loss) const;
  /// Divides `grads` in place by the scale and records whether any holds inf/NaN. Call once per
  /// optimiser step, after the last backward and before clipping. No-op when disabled.
  void unscale_(const std::vector<torch::Tensor>& grads);
  /// Float scalar on the device: 1 when unscale_ found an inf/NaN gradient this step, else 0.
  torch::Tensor found_inf() const { return found_inf_; }
  /// Ends the step: backs off on inf, grows after growth_interval clean steps; clears found_inf.
  void update();
  /// The current scale (host synchronisation: for logging only).
  double current_scale() const;

  /// {"enabled", "scale", "growth_tracker", options...} for checkpoints.
  nlohmann::json state() const;
  /// Restores state(); throws when the saved scaler was configured differently.
  void load_state(const nlohmann::json& state);

 private:
  bool enabled_;
  torch::Device device_;
  GradScalerOptions options_;
  torch::Tensor scale_;           // float [1]
  torch::Tensor growth_tracker_;  // int32 [1]
  torch::Tensor found_inf_;       // float [1]
  bool unscaled_ = false;
};

}  // namespace gtgm::train
