#pragma once
/// Data-parallel gradient reduction for LibTorch's C++ frontend (which has no DDP module):
/// parameters are broadcast from rank 0 at construction; during backward, a post-hook on each
/// parameter's gradient accumulator copies the accumulated gradient into a flat bucket (~25 MB,
/// parameters in reverse registration order, as gradients arrive) and launches the bucket's
/// asynchronous all-reduce as soon as it is full, so communication overlaps the rest of backward;
/// finish() waits for them and writes the averaged gradients back before the optimiser step.
///
///   dist::Reducer reducer(*model, ctx, cfg.dist.bucket_mb);
///   for (micro-step k of K) {   // loss_k = forward(...)
///     std::optional<dist::Reducer::NoSyncGuard> local;
///     if (k + 1 < K) local.emplace(reducer);   // accumulate locally, no communication
///     else reducer.prepare_backward({loss_k});  // optional: finds unused parameters
///     loss_k.backward();
///   }
///   reducer.finish();      // before clipping / optimiser.step()
///
/// - Frozen parameters (requires_grad false) are left out (every rank must freeze the same ones:
///   checked at construction).
/// - Unused parameters (no gradient this step) contribute zeros, so the collectives match across
///   ranks; a parameter unused on every rank keeps an undefined gradient, as in one process.
/// - Gradient accumulation: inside no_sync() nothing is communicated; the first synced backward
///   reduces the accumulated sums.
/// With world_size 1 everything is a no-op.
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "gtgm/dist/context.h"

namespace gtgm::dist {

/// How gradients travel.
enum class ReduceMode {
  /// Buckets launched from gradient hooks while backward runs (the default, DDP-like).
  Bucketed,
  /// The same buckets, but all launched in finish() after backward (no overlap; for comparison).
  BucketedAfterBackward,
  /// One blocking all-reduce per parameter in finish() (what C++ users write by hand; for comparison).
  PerParameter,
};

class Reducer {
 public:
  /// Reduces the gradients of `params` (frozen ones are skipped). Broadcasts them from rank 0.
  Reducer(std::vector<torch::Tensor> params, Context ctx, double bucket_mb = 25.0,
          ReduceMode mode = ReduceMode::Bucketed);
  /// Reduces `module.parameters()`; broadcasts its parameters AND buffers from rank 0.
  Reducer(torch::nn::Module& module, Context ctx, double bucket_mb = 25.0, ReduceMode mode = ReduceMode::Bucketed);
  ~Reducer();
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  /// Starts a step: checks that the previous one was finished and clears its state. Optional
  /// (finish() leaves a clean state) but recommended before each synced backward.
  void prepare_backward();
  /// Same, and walks the autograd graph of `outputs` (the loss): parameters it cannot reach are
  /// unused this step and marked ready at once (zeros, or their accumulated gradient), so their
  /// buckets do not hold back the overlap. Call after forward, before the synced backward.
  void prepare_backward(const std::vector<torch::Tensor>& outputs);
  /// Waits for every bucket's all-reduce (launching those that backward did not fill, e.g. with
  /// unused parameters) and writes the averaged gradients into param.grad(). No-op inside no_sync().
  void finish();

  /// RAII scope in which backward passes accumulate gradients locally without communicating.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(Reducer& reducer);
    ~NoSyncGuard();
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    Reducer& reducer_;
    bool previous_;
  };
  [[nodiscard]] NoSyncGuard no_sync() { return NoSyncGuard(*this); }
  bool sync_enabled() const;

  /// Buckets' sizes in bytes (reduction order).
  std::vector<int64_t> bucket_bytes() const;
  /// Buckets launched before finish() (from gradient hooks during backward, or by
  /// prepare_backward for unused parameters) in the last finished step: the overlapped ones.
  int64_t buckets_overlapped() const;
  const Context& context() const;

  struct State;  // shared with the gradient hooks (src/dist/reducer.cpp)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace gtgm::dist
