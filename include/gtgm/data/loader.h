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

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/data/augment.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/prefetcher.h"
#include "gtgm/data/rng.h"
#include "gtgm/data/samplers.h"

namespace gtgm::data {

/// A pretraining batch (contract with train/ and text/).
struct PretrainBatch {
  torch::Tensor view1, view2;  ///< [B, 1, D, H, W] float in [0, 1], augmented (PAPER.md), on the device
  std::vector<std::string> case_ids;
  /// [B, 3] int64 (CPU): crop centre (z, y, x) in voxels of the ORIGINAL source volume (midpoint
  /// of the two views' centres, mapped through the cache's to_source transform), for captions.
  torch::Tensor positions;
  /// [B, 3] int64 (CPU): the crop's corner (z, y, x) in voxels of the ORIGINAL source volume: the
  /// smallest source index the crop (at the midpoint of the two views' starts) covers along each
  /// axis. The reference looks captions up by its crop corner (text.caption_anchor: corner).
  torch::Tensor corners;
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

/// Resolves data.augment_on for a device: true = augment in the workers.
bool augment_in_workers(config::AugmentOn augment_on, const torch::Device& device);

/// Limits the calling thread's intra-op parallelism (OpenMP builds) to one thread, so N loader
/// workers use N cores instead of N x all cores.
void limit_intraop_threads_of_this_thread();

/// What the pretraining and segmentation loaders share: the dataset, data config, options, epoch
/// schedule, crop size, where augmentation runs and whether batches are pinned, the per-sample
/// random streams, and the stream position (state / restore) over the derived loader's prefetch
/// queue. The queue lives in the derived loader, declared last, so its workers stop before any
/// state they read is destroyed.
class LoaderBase {
 public:
  virtual ~LoaderBase() = default;
  LoaderBase(const LoaderBase&) = delete;
  LoaderBase& operator=(const LoaderBase&) = delete;

  /// Where the stream is: restore() of it continues with the batch after the last one returned.
  LoaderState state() const;
  /// Continues the stream at `state`; throws when it belongs to another stream (seed, rank,
  /// world size, batch size, epoch length) or is out of range.
  void restore(const LoaderState& state);
  int64_t batches_per_epoch() const { return schedule_.batches_per_epoch(); }

 protected:
  /// `what` names the loader in errors and its worker threads ("pretraining loader").
  LoaderBase(std::shared_ptr<const CacheDataset> dataset, const config::DataConfig& cfg, LoaderOptions options,
             std::string what);

  /// A prefetch queue of `build(b)` over data.num_workers workers holding up to
  /// max(data.prefetch, workers) batches.
  template <class Item, class Build>
  std::unique_ptr<Prefetcher<Item>> make_queue(Build build) const {
    const int workers = cfg_.num_workers;
    return std::make_unique<Prefetcher<Item>>(
        std::move(build), workers, std::max(cfg_.prefetch, workers),
        [](int) { limit_intraop_threads_of_this_thread(); }, what_);
  }
  /// Global index of the next batch the derived loader's queue returns.
  virtual int64_t queue_position() const = 0;
  /// Makes the queue continue at global batch `b`.
  virtual void queue_reset(int64_t b) = 0;
  /// The random stream of sample `i` of global batch `b`: Rng(seed, {tag, epoch, rank, j}) with j
  /// the sample's index in this rank's epoch.
  Rng sample_rng(uint64_t tag, int64_t b, int64_t i) const;

  /// A crop may exceed a case by up to this factor per axis (padded); beyond it the loader refuses.
  static constexpr int64_t kMaxCropOverCase = 4;
  /// Throws naming the first case that a crop exceeds more than kMaxCropOverCase times along an
  /// axis; warns (rank 0, once) how many cases get padded crops.
  void check_crop_fits() const;

  std::shared_ptr<const CacheDataset> ds_;
  config::DataConfig cfg_;
  LoaderOptions opt_;
  EpochSchedule schedule_;
  std::array<int64_t, 3> crop_{};  ///< data.crop_size [D, H, W]
  bool worker_augment_;
  bool pin_;
  std::string what_;
};

/// The pretraining loader.
class PretrainLoader : public LoaderBase {
 public:
  /// Uses data.{crop_size, batch_size, num_workers, prefetch, pin_memory, samples_per_epoch,
  /// augment_on, pretrain_augment}.
  PretrainLoader(std::shared_ptr<const CacheDataset> dataset, const config::DataConfig& cfg, LoaderOptions options);
  ~PretrainLoader() override;

  PretrainBatch next();

 private:
  struct Item;
  Item build(int64_t batch) const;
  /// data.pretrain_augment.views=reference: sample i of `batch` (views, position, corner, id).
  void reference_sample(const CacheCase& c, const torch::Tensor& src, const Index3& shape, int64_t channel, Rng& rng,
                        PretrainBatch& batch, int64_t i) const;
  int64_t queue_position() const override;
  void queue_reset(int64_t b) override;

  TransposeMask mask_;
  bool em_ = false;  ///< CREMI data: crops stop at data.em_pretrain_z of each volume's depth
  std::unique_ptr<Prefetcher<Item>> queue_;  // last: its workers read the members above
};

/// The segmentation loader (foreground oversampling, segmentation augmentation).
class SegLoader : public LoaderBase {
 public:
  /// Uses data.{crop_size, batch_size, num_workers, prefetch, pin_memory, samples_per_epoch,
  /// augment_on, foreground_oversample, seg_augment}. Every case needs a label.
  SegLoader(std::shared_ptr<const CacheDataset> dataset, const config::DataConfig& cfg, LoaderOptions options);
  ~SegLoader() override;

  SegBatch next();

 private:
  struct Item;
  Item build(int64_t batch) const;
  int64_t queue_position() const override;
  void queue_reset(int64_t b) override;

  std::unique_ptr<Prefetcher<Item>> queue_;
};

}  // namespace gtgm::data
