#pragma once
/// model.sync_bn: connects the models' batch norms to the process group. models/ knows nothing
/// of c10d (it takes a models::CrossReplica); this is where dist's all-reduce is injected.
#include <torch/torch.h>

#include <memory>

#include "gtgm/dist/context.h"
#include "gtgm/models/sync_batch_norm.h"

namespace gtgm::train {

/// A CrossReplica over `ctx`'s ranks: world_size() replicas, sum = dist::all_reduce_sum_ (Gloo on
/// CPU, NCCL on CUDA). The context (and its process group) lives as long as the returned object.
std::shared_ptr<const models::CrossReplica> cross_replica_sum(const dist::Context& ctx);

/// Makes every batch norm of `module` (models::NormImpl, kind batch) normalise over all of
/// `ctx`'s ranks in training; with one process it leaves them plain. Returns the number of layers
/// synchronised (0 for one process). Every rank must then run the same training forward and
/// backward passes (each synchronised layer all-reduces once in each).
int64_t enable_sync_batch_norm(torch::nn::Module& module, const dist::Context& ctx);

}  // namespace gtgm::train
