#pragma once
/// Loaders over a preprocessing cache: worker threads crop (and, on CPU, augment) whole batches
/// into a bounded ordered prefetch queue; the training thread takes them, copies them to the
/// device (pinned memory + non-blocking copies on CUDA) and, when augmentation runs on the
/// device, augments them there.
///
/// Determinism: an epoch is a seeded shuffle of the cases (repeated to `samples_per_epoch`,
/// rounded up to whole global batches), dealt round-robin to ranks; sample j of this rank in
/// epoch e draws everything (crop, channel, augmentation) from Rng(seed, {tag, e, rank, j}).
/// The worker that builds a batch plays no part, so batches are identical for any
/// `num_workers` and any placement of the augmentation (same device type).
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/data/augment.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/prefetcher.h"

namespace gtgm::data {

/// A pretraining batch (contract with train/ and text/).
struct PretrainBatch {
  torch::Tensor view1, view2;  ///< [B, 1, D, H, W] float in [0, 1], augmented (PAPER.md), on the device
  std::vector<std::string> case_ids;
  /// [B, 3] int64 (CPU): crop centre (z, y, x) in voxels of the ORIGINAL source volume (midpoint
  /// of the two views' centres, mapped through the cache's to_source transform), for captions.
  torch::Tensor positions;
};

/// A segmentation batch.
struct SegBatch {
  torch::Tensor image;  ///< [B, C, D, H, W] float, on the device
  torch::Tensor label;  ///< [B, 1, D, H, W] int64, on the device
  std::vector<std::string> case_ids;
};

/// Who this loader is and where batches go.
struct LoaderOptions {
  uint64_t seed = 42;
  int rank = 0;
  int world_size = 1;
  torch::Device device = torch::kCPU;
  bool augment = true;  ///< false: crops only (pretraining views are still min-max normalised)
};

/// Where a loader is in its stream: restore(state) continues with exactly the batch that came
/// after the one last returned when state() was taken. The other fields identify the stream and
/// are checked on restore.
struct LoaderState {
  int64_t epoch = 0;
  int64_t position = 0;  ///< batches of `epoch` already returned
  uint64_t seed = 0;
  int rank = 0;
  int world_size = 1;
  int64_t batch_size = 0;
  int64_t batches_per_epoch = 0;

  std::string to_json() const;
  /// Parses to_json() output; throws naming the missing/bad key.
  static LoaderState from_json(const std::string& text);
};

/// The epoch plan: which case each sample of this rank reads.
class EpochSchedule {
 public:
  EpochSchedule(int64_t num_cases, int64_t samples_per_epoch, int64_t batch_size, int rank, int world_size,
                uint64_t seed);
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t batch_size() const { return batch_size_; }
  /// The cases of this rank's samples in `epoch` (batches_per_epoch * batch_size entries).
  std::vector<int64_t> rank_samples(int64_t epoch) const;
  /// Case index of sample `i` of global batch `b` (b counts batches across epochs).
  int64_t case_of(int64_t b, int64_t i) const;

 private:
  int64_t num_cases_, batch_size_, global_, batches_per_epoch_;
  int rank_, world_;
  uint64_t seed_;
  mutable std::mutex mutex_;
  mutable int64_t memo_epoch_ = -1;
  mutable std::vector<int64_t> memo_;
};

namespace detail {
/// The state of a loader whose next batch is global batch `b`.
LoaderState make_state(int64_t b, const EpochSchedule& schedule, const LoaderOptions& options);
/// Checks that `saved` belongs to the same stream as `current` (seed, rank, world, batch,
/// epoch length) and returns the global batch to continue from; `what` names the loader.
int64_t restore_position(const LoaderState& saved, const LoaderState& current, const std::string& what);
}  // namespace detail

/// Resolves data.augment_on for a device: true = augment in the workers.
bool augment_in_workers(config::AugmentOn augment_on, const torch::Device& device);

/// Limits the calling thread's intra-op parallelism (OpenMP builds) to one thread, so N loader
/// workers use N cores instead of N x all cores.
void limit_intraop_threads_of_this_thread();

/// The pretraining loader.
class PretrainLoader {
 public:
  /// Uses data.{crop_size, batch_size, num_workers, prefetch, pin_memory, samples_per_epoch,
  /// augment_on, pretrain_augment}.
  PretrainLoader(std::shared_ptr<const CacheDataset> dataset, const config::DataConfig& cfg, LoaderOptions options);
  ~PretrainLoader();

  PretrainBatch next();
  LoaderState state() const;
  void restore(const LoaderState& state);
  int64_t batches_per_epoch() const { return schedule_.batches_per_epoch(); }

 private:
  struct Item;
  Item build(int64_t batch) const;

  std::shared_ptr<const CacheDataset> ds_;
  config::DataConfig cfg_;
  LoaderOptions opt_;
  EpochSchedule schedule_;
  bool worker_augment_;
  bool pin_;
  TransposeMask mask_;
  std::unique_ptr<Prefetcher<Item>> queue_;
};

/// The segmentation loader (foreground oversampling, segmentation augmentation).
class SegLoader {
 public:
  /// Uses data.{crop_size, batch_size, num_workers, prefetch, pin_memory, samples_per_epoch,
  /// augment_on, foreground_oversample, seg_augment}. Every case needs a label.
  SegLoader(std::shared_ptr<const CacheDataset> dataset, const config::DataConfig& cfg, LoaderOptions options);
  ~SegLoader();

  SegBatch next();
  LoaderState state() const;
  void restore(const LoaderState& state);
  int64_t batches_per_epoch() const { return schedule_.batches_per_epoch(); }

 private:
  struct Item;
  Item build(int64_t batch) const;

  std::shared_ptr<const CacheDataset> ds_;
  config::DataConfig cfg_;
  LoaderOptions opt_;
  EpochSchedule schedule_;
  bool worker_augment_;
  bool pin_;
  std::unique_ptr<Prefetcher<Item>> queue_;
};

}  // namespace gtgm::data
