#include "gtgm/train/sync_bn.h"

#include "gtgm/core/logging.h"
#include "gtgm/dist/collectives.h"

namespace gtgm::train {

std::shared_ptr<const models::CrossReplica> cross_replica_sum(const dist::Context& ctx) {
  auto replicas = std::make_shared<models::CrossReplica>();
  replicas->world_size = ctx.world_size();
  replicas->all_reduce_sum = [ctx](torch::Tensor& x) { dist::all_reduce_sum_(x, ctx); };
  return replicas;
}

int64_t enable_sync_batch_norm(torch::nn::Module& module, const dist::Context& ctx) {
  if (!ctx.distributed()) return 0;
  int64_t unconverted = 0;
  const int64_t n = models::set_cross_replica(module, cross_replica_sum(ctx), &unconverted);
  if (unconverted > 0) {
    GTGM_LOG_RANK0(spdlog::level::warn,
                   "model.sync_bn: {} torch::nn::BatchNorm layer(s) (e.g. a BYOL/SimSiam predictor) still normalise "
                   "each process's own batch",
                   unconverted);
  }
  return n;
}

}  // namespace gtgm::train
