#include "gtgm/losses/clip.h"

#include <cmath>

#include "gtgm/core/error.h"
#include "gtgm/dist/collectives.h"

namespace gtgm::losses {
namespace {

void check_pair(const torch::Tensor& image, const torch::Tensor& text, const char* what) {
  GTGM_CHECK(image.defined() && text.defined(), "{}: image and text embeddings must be defined", what);
  GTGM_CHECK(image.dim() == 2 && text.dim() == 2 && image.sizes() == text.sizes() && image.size(0) > 0,
             "{}: expected image and text embeddings [B, P] of the same shape, got image {} and text {}", what,
             image.sizes(), text.sizes());
}

torch::Tensor gather(const torch::Tensor& x, const dist::Context* ctx) {
  return (ctx != nullptr && ctx->distributed()) ? dist::all_gather_with_grad(x, *ctx) : x;
}

}  // namespace

LogitScaleImpl::LogitScaleImpl(const LogitScaleOptions& options) : options_(options) {
  GTGM_CHECK(options.temperature > 0, "LogitScale: temperature must be > 0, got {}", options.temperature);
  GTGM_CHECK(options.max_scale >= 1, "LogitScale: max_scale must be >= 1, got {}", options.max_scale);
  torch::Tensor init = torch::full({}, std::log(1.0 / options.temperature), torch::kFloat32);
  if (options.learnable) {
    log_scale_ = register_parameter("log_scale", init);
  } else {
    log_scale_ = register_buffer("log_scale", init);
  }
}

torch::Tensor LogitScaleImpl::forward() {
  return torch::clamp(log_scale_, 0.0, std::log(options_.max_scale)).exp();
}

torch::Tensor normalize_rows(const torch::Tensor& x) {
  torch::Tensor f = x.scalar_type() == torch::kFloat64 ? x : x.to(torch::kFloat32);
  return torch::nn::functional::normalize(f, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
}

torch::Tensor clip_loss_normalized(const torch::Tensor& image_all, const torch::Tensor& text_all,
                                   const torch::Tensor& scale, ClipReduction reduction) {
  check_pair(image_all, text_all, "clip_loss");
  GTGM_CHECK(scale.defined() && scale.numel() == 1, "clip_loss: the logit scale must be a scalar, got shape {}",
             scale.defined() ? scale.sizes() : c10::IntArrayRef{});
  const torch::Tensor logits = torch::matmul(image_all, text_all.t()) * scale.reshape({}).to(image_all.scalar_type());
  const torch::Tensor labels = torch::arange(image_all.size(0), torch::TensorOptions().dtype(torch::kLong).device(image_all.device()));
  const torch::Tensor i2t = torch::nn::functional::cross_entropy(logits, labels);
  const torch::Tensor t2i = torch::nn::functional::cross_entropy(logits.t(), labels);
  return reduction == ClipReduction::Sum ? i2t + t2i : (i2t + t2i) * 0.5;
}

torch::Tensor clip_loss(const torch::Tensor& image, const torch::Tensor& text, const torch::Tensor& scale,
                        ClipReduction reduction, const dist::Context* ctx) {
  check_pair(image, text, "clip_loss");
  return clip_loss_normalized(gather(normalize_rows(image), ctx), gather(normalize_rows(text), ctx), scale, reduction);
}

torch::Tensor clip_loss(const torch::Tensor& image, const torch::Tensor& text, double temperature,
                        ClipReduction reduction, const dist::Context* ctx) {
  GTGM_CHECK(temperature > 0, "clip_loss: temperature must be > 0, got {}", temperature);
  const torch::Tensor scale = torch::full({}, 1.0 / temperature, torch::TensorOptions().device(image.device()));
  return clip_loss(image, text, scale, reduction, ctx);
}

torch::Tensor clip_accuracy(const torch::Tensor& image, const torch::Tensor& text, const dist::Context* ctx) {
  check_pair(image, text, "clip_accuracy");
  torch::NoGradGuard no_grad;
  const torch::Tensor i = gather(normalize_rows(image), ctx);
  const torch::Tensor t = gather(normalize_rows(text), ctx);
  const torch::Tensor sim = torch::matmul(i, t.t());
  const torch::Tensor labels = torch::arange(i.size(0), torch::TensorOptions().dtype(torch::kLong).device(i.device()));
  const torch::Tensor i2t = (sim.argmax(1) == labels).to(torch::kFloat32).mean();
  const torch::Tensor t2i = (sim.argmax(0) == labels).to(torch::kFloat32).mean();
  return (i2t + t2i) * 0.5;
}

}  // namespace gtgm::losses
