#include "gtgm/losses/segmentation.h"

#include "gtgm/core/error.h"

namespace gtgm::losses {
namespace {

namespace F = torch::nn::functional;

// [B, 1, *s] or [B, *s] -> [B, 1, *s] int64, checked against logits [B, C, *s].
torch::Tensor labels_like(const torch::Tensor& logits, const torch::Tensor& target, const char* what) {
  GTGM_CHECK(logits.defined() && target.defined(), "{}: logits and target must be defined", what);
  GTGM_CHECK(logits.dim() >= 3 && logits.size(1) >= 2, "{}: expected logits [B, C>=2, *spatial], got {}", what,
             logits.sizes());
  torch::Tensor t = target.dim() == logits.dim() - 1 ? target.unsqueeze(1) : target;
  GTGM_CHECK(t.dim() == logits.dim() && t.size(1) == 1 && t.size(0) == logits.size(0) &&
                 t.sizes().slice(2) == logits.sizes().slice(2),
             "{}: target {} does not match logits {} (expected [B, 1, *spatial] or [B, *spatial])", what,
             target.sizes(), logits.sizes());
  GTGM_CHECK(!t.is_floating_point(), "{}: target must hold integer labels, got {}", what, t.scalar_type());
  t = t.to(torch::kLong);
  if (t.device().is_cpu() && t.numel() > 0) {
    // On CUDA an out-of-range label is a device assert; on CPU we can name it.
    const int64_t lo = t.min().item<int64_t>(), hi = t.max().item<int64_t>();
    GTGM_CHECK(lo >= 0 && hi < logits.size(1), "{}: labels must be in [0, {}) (the network's {} output classes: model.num_classes), found "
               "values in [{}, {}]",
               what, logits.size(1), logits.size(1), lo, hi);
  }
  return t;
}

}  // namespace

DiceCeTerms dice_ce_loss(const torch::Tensor& logits_in, const torch::Tensor& target, const DiceCeOptions& o) {
  const torch::Tensor labels = labels_like(logits_in, target, "dice_ce_loss");
  const torch::Tensor raw = logits_in.scalar_type() == torch::kFloat64 ? logits_in : logits_in.to(torch::kFloat32);
  const torch::Tensor logits = o.sigmoid_first ? torch::sigmoid(raw) : raw;
  const int64_t classes = logits.size(1);
  const torch::Tensor ce = F::cross_entropy(logits, labels.squeeze(1));

  const torch::Tensor probs = torch::softmax(logits, 1);
  const torch::Tensor onehot = torch::zeros_like(probs).scatter_(1, labels, 1.0);
  std::vector<int64_t> axes;
  if (o.batch_dice) axes.push_back(0);
  for (int64_t d = 2; d < logits.dim(); ++d) axes.push_back(d);
  const torch::Tensor tp = (probs * onehot).sum(axes);
  const torch::Tensor fp = (probs * (1.0 - onehot)).sum(axes);
  const torch::Tensor fn = ((1.0 - probs) * onehot).sum(axes);
  torch::Tensor dc = (2.0 * tp + o.smooth) / (2.0 * tp + fp + fn + o.smooth).clamp_min(1e-8);  // [C] or [B, C]
  if (!o.include_background) dc = dc.narrow(-1, 1, classes - 1);
  DiceCeTerms out;
  out.ce = ce;
  out.dice = 1.0 - dc.mean();
  out.total = o.ce_weight * out.ce + o.dice_weight * out.dice;
  return out;
}

std::vector<double> deep_supervision_weights(int n) {
  GTGM_CHECK(n >= 1, "deep_supervision_weights: need at least one output, got {}", n);
  std::vector<double> w(n);
  for (int i = 0; i < n; ++i) w[i] = 1.0 / static_cast<double>(1ll << i);
  if (n > 1) w[n - 1] = 0.0;
  double sum = 0;
  for (double x : w) sum += x;
  for (double& x : w) x /= sum;
  return w;
}

torch::Tensor resize_labels(const torch::Tensor& labels, at::IntArrayRef size) {
  GTGM_CHECK(labels.dim() == static_cast<int64_t>(size.size()) + 2,
             "resize_labels: labels {} need {} spatial dims to resize to {}", labels.sizes(), labels.dim() - 2, size);
  if (labels.sizes().slice(2) == size) return labels;
  // Nearest interpolation of the label values themselves (exact for integers below 2^24).
  return F::interpolate(labels.to(torch::kFloat32), F::InterpolateFuncOptions().size(size.vec()).mode(torch::kNearest))
      .to(labels.scalar_type());
}

DiceCeTerms deep_supervision_loss(const std::vector<torch::Tensor>& outputs, const torch::Tensor& target,
                                  const std::vector<double>& weights, const DiceCeOptions& o) {
  GTGM_CHECK(!outputs.empty() && outputs.size() == weights.size(),
             "deep_supervision_loss: {} outputs but {} weights", outputs.size(), weights.size());
  torch::Tensor labels = target.dim() == outputs[0].dim() - 1 ? target.unsqueeze(1) : target;
  DiceCeTerms total;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (weights[i] == 0.0) continue;
    const DiceCeTerms t = dice_ce_loss(outputs[i], resize_labels(labels, outputs[i].sizes().slice(2)), o);
    auto add = [&](torch::Tensor& acc, const torch::Tensor& v) { acc = acc.defined() ? acc + weights[i] * v : weights[i] * v; };
    add(total.total, t.total);
    add(total.dice, t.dice);
    add(total.ce, t.ce);
  }
  GTGM_CHECK(total.total.defined(), "deep_supervision_loss: every weight is 0");
  return total;
}

torch::Tensor affinity_loss(const torch::Tensor& logits_in, const torch::Tensor& target, const torch::Tensor& mask,
                            const AffinityLossOptions& o) {
  GTGM_CHECK(logits_in.defined() && target.defined(), "affinity_loss: logits and target must be defined");
  GTGM_CHECK(logits_in.dim() >= 3 && logits_in.sizes() == target.sizes(),
             "affinity_loss: expected logits and target [B, A, *spatial] of the same shape, got {} and {}",
             logits_in.sizes(), target.sizes());
  GTGM_CHECK(o.min_ratio > 0 && o.min_ratio < 0.5, "affinity_loss: min_ratio must be in (0, 0.5), got {}", o.min_ratio);
  const torch::Tensor logits = logits_in.scalar_type() == torch::kFloat64 ? logits_in : logits_in.to(torch::kFloat32);
  const torch::Tensor t = target.to(logits.scalar_type());
  torch::Tensor m = torch::ones_like(logits);
  if (mask.defined()) {
    GTGM_CHECK(mask.dim() == logits.dim() && mask.size(0) == logits.size(0) &&
                   (mask.size(1) == 1 || mask.size(1) == logits.size(1)) && mask.sizes().slice(2) == logits.sizes().slice(2),
               "affinity_loss: mask {} does not match logits {} (expected [B, A or 1, *spatial])", mask.sizes(),
               logits.sizes());
    m = (mask != 0).to(logits.scalar_type()).expand_as(logits);
  }
  const torch::Tensor bce = F::binary_cross_entropy_with_logits(
      logits, t, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
  torch::Tensor w = m;
  if (o.balance) {
    torch::NoGradGuard no_grad;
    std::vector<int64_t> axes{0};
    for (int64_t d = 2; d < logits.dim(); ++d) axes.push_back(d);
    std::vector<int64_t> shape(logits.dim(), 1);
    shape[1] = logits.size(1);
    const torch::Tensor frac =
        ((t * m).sum(axes) / m.sum(axes).clamp_min(1.0)).clamp(o.min_ratio, 1.0 - o.min_ratio).view(shape);
    w = m * (t * (0.5 / frac) + (1.0 - t) * (0.5 / (1.0 - frac)));
  }
  return (w * bce).sum() / m.sum().clamp_min(1.0);
}

}  // namespace gtgm::losses
