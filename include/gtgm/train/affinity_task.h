#pragma once
/// EM (CREMI) fine-tuning as a train::Task: crops of the training slices of each cached volume ->
/// SegmentationModel with `model.head: affinity` (3 logits per voxel: z, y, x) -> class-balanced
/// affinity BCE (losses::affinity_loss) against the nearest-neighbour affinities of the neuron ids
/// (infer::affinities_from_labels; edges touching label 0 are "not affine", edges leaving the crop
/// are masked). CREMI splits each volume along z (first slices train, last slices test), so this
/// task samples its own crops from a z range per volume instead of using data::SegLoader, which
/// splits by case.
///
/// Sampling: batch b draws everything (case, crop start, flips, in-plane transpose) from
/// data::Rng(run.seed, {tag, b}), so the stream position is just b and resume is exact.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/losses/segmentation.h"
#include "gtgm/models/registry.h"
#include "gtgm/train/segmentation_task.h"
#include "gtgm/train/task.h"

namespace gtgm::train {

/// An EM training batch (host tensors).
struct AffinityBatch {
  torch::Tensor image;   ///< [B, C, d, h, w] float
  torch::Tensor target;  ///< [B, 3, d, h, w] float affinities in {0, 1}
  torch::Tensor mask;    ///< [B, 3, d, h, w] float, 0 where the neighbour lies outside the crop
  torch::Tensor label;   ///< [B, 1, d, h, w] int64 neuron ids the targets come from (0 outside)
};

/// The slices [z_begin, z_end) of a cached volume that a part (train or test) uses.
struct SliceRange {
  int64_t z_begin = 0;
  int64_t z_end = 0;
};

/// CREMI's z split of a volume with `depth` slices: train = the first round(train_z * depth)
/// slices (at least 1, at most depth - 1), of which data.label_fraction keeps the first
/// max(1, round(fraction * n)); test = the slices after the train part. Throws for depth < 2.
SliceRange em_train_slices(int64_t depth, double train_z, double label_fraction);
SliceRange em_test_slices(int64_t depth, double train_z);

class AffinityTask : public FinetuneTaskBase {
 public:
  /// `volumes`: the cached EM volumes (labels required); `train_slices[i]` the z range of volume i
  /// to sample crops from. Needs model.head: affinity.
  AffinityTask(FinetuneTaskConfig cfg, const torch::Device& device, std::shared_ptr<const data::CacheDataset> volumes,
               std::vector<SliceRange> train_slices, ValidateFn validate = nullptr);
  ~AffinityTask() override;

  std::string name() const override { return "affinity"; }
  Batch next_batch() override;
  Losses compute(const Batch& batch, const StepContext& ctx) override;
  nlohmann::json state() const override { return {{"affinity_batch", index_}}; }
  void restore(const nlohmann::json& state) override;

  /// Batch number `index` of the stream (what next_batch returns as the index-th batch).
  AffinityBatch make_batch(int64_t index) const;

 private:
  std::shared_ptr<const data::CacheDataset> volumes_;
  std::vector<SliceRange> slices_;
  int64_t index_ = 0;
};

}  // namespace gtgm::train
