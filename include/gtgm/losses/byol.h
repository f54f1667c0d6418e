#pragma once
/// BYOL / SimSiam machinery: the predictor MLP, the EMA target-network update and BYOL's cosine
/// momentum schedule. The losses themselves are in losses/feature_losses.h.
#include <torch/torch.h>

#include <cstdint>

namespace gtgm::losses {

struct PredictorOptions {
  int64_t dim = 2048;    // input = output width (the embedding E)
  int64_t hidden = 512;  // bottleneck (SimSiam: dim / 4)
};

/// Linear(dim, hidden) - BatchNorm1d - ReLU - Linear(hidden, dim). Submodules "fc1", "bn", "fc2".
/// forward: [N, dim] -> [N, dim].
class PredictorImpl : public torch::nn::Module {
 public:
  explicit PredictorImpl(const PredictorOptions& options = {});
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
  torch::nn::BatchNorm1d bn_{nullptr};
};
TORCH_MODULE(Predictor);

/// BYOL's momentum at `step` of `total_steps`: 1 - (1 - base) * (cos(pi * step / total) + 1) / 2,
/// from `base` at step 0 up to 1 at the end.
double byol_momentum(int64_t step, int64_t total_steps, double base = 0.996);

/// target <- momentum * target + (1 - momentum) * online for every parameter; buffers (BN
/// statistics) are copied. Both modules must have the same structure (checked, naming the key).
void ema_update_(torch::nn::Module& target, const torch::nn::Module& online, double momentum);

/// Makes `target` an exact copy of `online` (parameters and buffers) and freezes its parameters:
/// the initial BYOL target network.
void init_target_(torch::nn::Module& target, const torch::nn::Module& online);

}  // namespace gtgm::losses
