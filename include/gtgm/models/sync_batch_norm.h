#pragma once
/// Batch normalisation whose statistics span several model replicas (one per process), the C++
/// counterpart of torch.nn.SyncBatchNorm. models/ does not depend on dist/: the replicas are an
/// injected CrossReplica (a world size and an in-place sum over the replicas), which
/// train::enable_sync_batch_norm builds from the c10d context (dist::all_reduce_sum_).
///
/// Training step of one layer with input x [B, C, *S] on each of W replicas:
///  - forward: per channel, this replica's count n, n * mean and n * (biased var + mean^2) in
///    float64, packed into one [2C + 1] tensor and summed over the replicas (1 all-reduce); the
///    global mean and biased variance normalise x; running_var takes the unbiased global variance;
///  - backward: sum(dxhat) and sum(dxhat * xhat) per channel, packed [2C] and summed (1 all-reduce);
///    dx = invstd * (dxhat - sum(dxhat) / N - xhat * sum(dxhat * xhat) / N), N the global count.
/// weight and bias are applied outside the custom function, so their gradients are this replica's
/// own sums (the data-parallel reducer averages them) and affine=False needs nothing special.
/// Input gradients follow torch.nn.SyncBatchNorm / dist's convention: with every replica's loss
/// averaged by the reducer, dx is world_size x the single-process gradient of the mean loss, and
/// parameter gradients after the reducer's average equal the single-process gradients.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

namespace gtgm::models {

/// The replicas a synchronised batch norm reduces over.
struct CrossReplica {
  /// Number of replicas; 1 = batch norm is plain (no reduction is ever called).
  int world_size = 1;
  /// Sums `x` in place over every replica (all replicas call it in the same order, same shape).
  std::function<void(torch::Tensor& x)> all_reduce_sum;
};

/// One training-mode synchronised batch norm over dim 1 of x [B, C, *S] (any rank >= 2): returns
/// y = xhat * weight + bias (weight/bias may be undefined: affine=False) and updates the running
/// stats (when defined) with `momentum`. Calls replicas.all_reduce_sum once here and once in the
/// backward (when x requires grad). Throws naming `layer` and the shape when the replicas hold <= 1
/// value per channel in total. Half/bfloat16 inputs are normalised in float32 and cast back.
torch::Tensor sync_batch_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                              const torch::Tensor& running_mean, const torch::Tensor& running_var, double momentum,
                              double eps, const std::shared_ptr<const CrossReplica>& replicas,
                              const std::string& layer);

/// Makes every batch norm (NormImpl of kind Batch) under `root` synchronise over `replicas` in
/// training, named by its module path for errors; a world size of 1 or null restores plain batch
/// norm. Returns the number of such layers. torch::nn::BatchNorm* modules are not converted; their
/// count goes to `unconverted` when given.
int64_t set_cross_replica(torch::nn::Module& root, const std::shared_ptr<const CrossReplica>& replicas,
                          int64_t* unconverted = nullptr);

}  // namespace gtgm::models
