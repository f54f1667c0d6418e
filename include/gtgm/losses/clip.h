#pragma once
/// CLIP InfoNCE between images and texts: L2-normalised embeddings, logits = scale * I T^T,
/// symmetric cross-entropy with the diagonal as positives. With a distributed context the
/// negatives come from the GLOBAL batch (dist::all_gather_with_grad), and the loss equals the
/// single-process loss on the global batch (see dist/collectives.h for the gradient convention).
#include <torch/torch.h>

#include "gtgm/dist/context.h"

namespace gtgm::losses {

/// Options of the logit scale 1/temperature.
struct LogitScaleOptions {
  double temperature = 0.07;  // initial (or fixed) temperature
  bool learnable = false;     // learn log(1/temperature)
  double max_scale = 100.0;   // clamp of 1/temperature (CLIP: 100)
};

/// The CLIP logit scale, log-parametrised: forward() = exp(clamp(log_scale, 0, log(max_scale))),
/// a scalar. `log_scale` is a parameter when learnable, else a buffer (saved either way).
class LogitScaleImpl : public torch::nn::Module {
 public:
  explicit LogitScaleImpl(const LogitScaleOptions& options = {});
  /// [] scalar 1/temperature.
  torch::Tensor forward();
  const LogitScaleOptions& options() const { return options_; }

 private:
  LogitScaleOptions options_;
  torch::Tensor log_scale_;
};
TORCH_MODULE(LogitScale);

/// How the image->text and text->image cross-entropies combine.
enum class ClipReduction {
  Mean,  // (CE_i2t + CE_t2i) / 2 (CLIP paper)
  Sum,   // CE_i2t + CE_t2i (the GTGM reference code)
};

/// image, text [B, P] (any scale; normalised here), scale [] (1/temperature).
/// ctx with world > 1: global negatives; every rank must pass the same B. Returns [] scalar.
torch::Tensor clip_loss(const torch::Tensor& image, const torch::Tensor& text, const torch::Tensor& scale,
                        ClipReduction reduction = ClipReduction::Mean, const dist::Context* ctx = nullptr);
/// Fixed temperature.
torch::Tensor clip_loss(const torch::Tensor& image, const torch::Tensor& text, double temperature,
                        ClipReduction reduction = ClipReduction::Mean, const dist::Context* ctx = nullptr);

/// The loss on already gathered, L2-normalised embeddings image_all, text_all [N, P] (N = global
/// batch); used when one text batch serves several image views.
torch::Tensor clip_loss_normalized(const torch::Tensor& image_all, const torch::Tensor& text_all,
                                   const torch::Tensor& scale, ClipReduction reduction);

/// Top-1 retrieval accuracy in [0, 1], the mean of image->text and text->image (no gradient).
torch::Tensor clip_accuracy(const torch::Tensor& image, const torch::Tensor& text, const dist::Context* ctx = nullptr);

/// [B, P] -> L2-normalised rows in float32 (reduced precision inputs are promoted).
torch::Tensor normalize_rows(const torch::Tensor& x);

}  // namespace gtgm::losses
