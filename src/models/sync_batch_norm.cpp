#include "gtgm/models/sync_batch_norm.h"

#include <torch/csrc/autograd/custom_function.h>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"
#include "gtgm/models/layers.h"

namespace gtgm::models {
namespace {

// The replicas ride through AutogradContext::saved_data (IValues only) in a capsule.
struct ReplicasCapsule : torch::CustomClassHolder {
  explicit ReplicasCapsule(std::shared_ptr<const CrossReplica> r) : replicas(std::move(r)) {}
  std::shared_ptr<const CrossReplica> replicas;
};

// Every dim but the channel dim 1.
std::vector<int64_t> sync_bn_reduce_dims(const torch::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

// [C] -> [1, C, 1, ...] for broadcasting against x.
torch::Tensor per_channel(const torch::Tensor& v, int64_t rank) {
  std::vector<int64_t> shape(static_cast<size_t>(rank), 1);
  shape[1] = v.size(0);
  return v.view(shape);
}

// x -> xhat with the global statistics; also returns the global mean and unbiased variance
// (non-differentiable outputs) for the running stats.
struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                                double eps, const std::shared_ptr<const CrossReplica>& replicas,
                                                const std::string& layer) {
    const int64_t channels = x.size(1);
    const int64_t local_count = channels > 0 ? x.numel() / channels : 0;
    const auto dims = sync_bn_reduce_dims(x);
    const bool low_precision = x.scalar_type() == torch::kHalf || x.scalar_type() == torch::kBFloat16;
    const torch::Tensor xf = low_precision ? x.to(torch::kFloat) : x;

    // Packed [n * mean (C), n * (var + mean^2) (C), n (1)] in float64: one all-reduce.
    const auto f64 = xf.options().dtype(torch::kFloat64);
    torch::Tensor packed = torch::zeros({2 * channels + 1}, f64);
    if (local_count > 0) {
      const auto [var_local, mean_local] =
          torch::var_mean(xf, torch::IntArrayRef(dims), /*unbiased=*/false, /*keepdim=*/false);
      const torch::Tensor m = mean_local.to(torch::kFloat64);
      const double n = static_cast<double>(local_count);
      packed.narrow(0, 0, channels).copy_(m * n);
      packed.narrow(0, channels, channels).copy_((var_local.to(torch::kFloat64) + m * m) * n);
      packed[2 * channels].fill_(n);
    }
    replicas->all_reduce_sum(packed);
    const torch::Tensor count = packed.narrow(0, 2 * channels, 1);  // [1], N over all replicas
    if (local_count <= 1) {
      // Only then can the global count be <= 1; reading it syncs a CUDA stream, so only here.
      const double total = count.item<double>();
      GTGM_CHECK(total > 1,
                 "batch norm '{}' synchronised over {} processes needs more than 1 value per channel in training, "
                 "got {} over all processes (input {} on this process); raise data.batch_size or the crop size",
                 layer, replicas->world_size, static_cast<int64_t>(total), core::shape_str(x.sizes()));
    }
    const torch::Tensor mean = packed.narrow(0, 0, channels) / count;
    const torch::Tensor var = (packed.narrow(0, channels, channels) / count - mean * mean).clamp_min(0.0);
    const torch::Tensor unbiased_var = var * count / (count - 1);
    const torch::Tensor invstd = (var + eps).rsqrt().to(xf.scalar_type());

    torch::Tensor xhat = (xf - per_channel(mean.to(xf.scalar_type()), x.dim())) * per_channel(invstd, x.dim());
    if (low_precision) xhat = xhat.to(x.scalar_type());
    ctx->save_for_backward({xhat, invstd, count});
    ctx->saved_data["replicas"] = c10::IValue::make_capsule(c10::make_intrusive<ReplicasCapsule>(replicas));
    ctx->mark_non_differentiable({mean, unbiased_var});
    return {xhat, mean, unbiased_var};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto capsule = c10::static_intrusive_pointer_cast<ReplicasCapsule>(ctx->saved_data["replicas"].toCapsule());
    const torch::Tensor& xhat_saved = saved[0];
    const torch::Tensor& invstd = saved[1];
    const torch::Tensor count = saved[2].to(invstd.scalar_type());
    const int64_t channels = xhat_saved.size(1);
    const auto dims = sync_bn_reduce_dims(xhat_saved);
    const bool low_precision = xhat_saved.scalar_type() != invstd.scalar_type();
    const torch::Tensor xhat = low_precision ? xhat_saved.to(invstd.scalar_type()) : xhat_saved;
    torch::Tensor g = grads[0].defined() ? grads[0] : torch::zeros_like(xhat_saved);
    if (low_precision) g = g.to(invstd.scalar_type());

    // Packed [sum(dxhat) (C), sum(dxhat * xhat) (C)]: one all-reduce.
    torch::Tensor packed = torch::cat({g.sum(dims), (g * xhat).sum(dims)});
    capsule->replicas->all_reduce_sum(packed);
    const torch::Tensor mean_g = packed.narrow(0, 0, channels) / count;
    const torch::Tensor mean_gx = packed.narrow(0, channels, channels) / count;
    const int64_t rank = xhat.dim();
    torch::Tensor dx = (g - per_channel(mean_g, rank) - xhat * per_channel(mean_gx, rank)) * per_channel(invstd, rank);
    if (low_precision) dx = dx.to(xhat_saved.scalar_type());
    return {dx, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                              const torch::Tensor& running_mean, const torch::Tensor& running_var, double momentum,
                              double eps, const std::shared_ptr<const CrossReplica>& replicas,
                              const std::string& layer) {
  GTGM_CHECK(replicas != nullptr && replicas->all_reduce_sum, "batch norm '{}': no cross-replica sum given", layer);
  GTGM_CHECK(x.dim() >= 2, "batch norm '{}' expects [B, C, ...], got {}", layer, core::shape_str(x.sizes()));
  const auto out = SyncBatchNormFunction::apply(x, eps, replicas, layer);
  if (running_mean.defined() && running_var.defined()) {
    torch::NoGradGuard ng;
    running_mean.mul_(1 - momentum).add_(out[1].to(running_mean.scalar_type()), momentum);
    running_var.mul_(1 - momentum).add_(out[2].to(running_var.scalar_type()), momentum);
  }
  torch::Tensor y = out[0];
  if (weight.defined()) y = y * per_channel(weight.to(y.scalar_type()), x.dim());
  if (bias.defined()) y = y + per_channel(bias.to(y.scalar_type()), x.dim());
  return y;
}

int64_t set_cross_replica(torch::nn::Module& root, const std::shared_ptr<const CrossReplica>& replicas,
                          int64_t* unconverted) {
  int64_t converted = 0, plain = 0;
  // The root itself by pointer: named_modules() with the root included needs it held by a
  // shared_ptr (shared_from_this), which a module on the stack is not.
  if (auto* norm = dynamic_cast<NormImpl*>(&root); norm != nullptr && norm->kind() == NormKind::Batch) {
    norm->set_replicas(replicas, root.name());
    ++converted;
  }
  for (const auto& item : root.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto norm = std::dynamic_pointer_cast<NormImpl>(item.value())) {
      if (norm->kind() != NormKind::Batch) continue;
      norm->set_replicas(replicas, item.key());
      ++converted;
    } else if (std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(item.value()) ||
               std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(item.value()) ||
               std::dynamic_pointer_cast<torch::nn::BatchNorm3dImpl>(item.value())) {
      ++plain;
    }
  }
  if (unconverted != nullptr) *unconverted = plain;
  return converted;
}

}  // namespace gtgm::models
