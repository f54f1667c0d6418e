#include "gtgm/train/affinity_task.h"

#include <cmath>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/data/rng.h"
#include "gtgm/data/samplers.h"
#include "gtgm/data/split.h"
#include "gtgm/infer/affinities.h"
#include "gtgm/io/safetensors.h"

using nlohmann::json;

namespace gtgm::train {

namespace {
constexpr uint64_t kAffinityTag = 0xAFF1;

int64_t train_depth(int64_t depth, double train_z) {
  GTGM_CHECK(train_z < 1.0, "EM split: finetune.em_train_z = {} leaves no test slices", train_z);
  return data::em_train_depth(depth, train_z);
}
}  // namespace

SliceRange em_train_slices(int64_t depth, double train_z, double label_fraction) {
  const int64_t n = train_depth(depth, train_z);
  GTGM_CHECK(label_fraction > 0 && label_fraction <= 1, "EM split: data.label_fraction must be in (0, 1], got {}",
             label_fraction);
  const int64_t kept =
      std::clamp<int64_t>(static_cast<int64_t>(std::floor(label_fraction * static_cast<double>(n) + 0.5)), 1, n);
  return {0, kept};
}

SliceRange em_test_slices(int64_t depth, double train_z) { return {train_depth(depth, train_z), depth}; }

AffinityTask::AffinityTask(FinetuneTaskConfig cfg, const torch::Device& device,
                           std::shared_ptr<const data::CacheDataset> volumes, std::vector<SliceRange> train_slices,
                           ValidateFn validate)
    : FinetuneTaskBase(std::move(cfg), device, std::move(validate), "affinity", "(3 nearest-neighbour affinities)"),
      volumes_(std::move(volumes)),
      slices_(std::move(train_slices)) {
  GTGM_CHECK(volumes_ && volumes_->size() > 0, "affinity fine-tuning: no EM volumes");
  GTGM_CHECK(slices_.size() == volumes_->size(), "affinity fine-tuning: {} slice ranges for {} volumes", slices_.size(),
             volumes_->size());
  for (size_t i = 0; i < volumes_->size(); ++i) {
    const auto& c = volumes_->at(i);
    GTGM_CHECK(c.label.valid(), "affinity fine-tuning: case '{}' has no neuron labels in the cache", c.entry.id);
    const int64_t depth = c.image.tensor().size(1);
    GTGM_CHECK(slices_[i].z_begin >= 0 && slices_[i].z_begin < slices_[i].z_end && slices_[i].z_end <= depth,
               "affinity fine-tuning: case '{}': slice range [{}, {}) outside its {} slices", c.entry.id,
               slices_[i].z_begin, slices_[i].z_end, depth);
  }
}

AffinityTask::~AffinityTask() = default;

AffinityBatch AffinityTask::make_batch(int64_t index) const {
  const int64_t bsz = cfg_.data.batch_size;
  const data::Index3 size{cfg_.data.crop_size[0], cfg_.data.crop_size[1], cfg_.data.crop_size[2]};
  const int64_t channels = volumes_->at(0).image.tensor().size(0);
  AffinityBatch b;
  b.image = torch::empty({bsz, channels, size[0], size[1], size[2]}, torch::kFloat);
  b.target = torch::empty({bsz, 3, size[0], size[1], size[2]}, torch::kFloat);
  b.mask = torch::empty({bsz, 3, size[0], size[1], size[2]}, torch::kFloat);
  b.label = torch::empty({bsz, 1, size[0], size[1], size[2]}, torch::kLong);
  const bool square = size[1] == size[2];
  for (int64_t i = 0; i < bsz; ++i) {
    data::Rng rng(static_cast<uint64_t>(cfg_.run.seed),
                  {kAffinityTag, static_cast<uint64_t>(index), static_cast<uint64_t>(i)});
    const size_t v = static_cast<size_t>(rng.randint(0, static_cast<int64_t>(volumes_->size()) - 1));
    const auto& c = volumes_->at(v);
    const SliceRange r = slices_[v];
    const torch::Tensor img = c.image.tensor(), lab = c.label.tensor();
    const data::Index3 start{r.z_begin + rng.randint(0, std::max<int64_t>(0, r.z_end - r.z_begin - size[0])),
                             rng.randint(0, std::max<int64_t>(0, img.size(2) - size[1])),
                             rng.randint(0, std::max<int64_t>(0, img.size(3) - size[2]))};
    torch::Tensor x = torch::empty({channels, size[0], size[1], size[2]}, torch::kFloat);
    torch::Tensor y = torch::empty({1, size[0], size[1], size[2]}, torch::kLong);
    data::copy_crop(img, start, size, c.entry.background, x);
    data::copy_crop(lab, start, size, 0.0, y);
    torch::Tensor mask = infer::affinity_valid_mask({size[0], size[1], size[2]});
    // Slices past the training range (a crop deeper than the range) are test data: blanked and
    // masked, as is every voxel outside the volume.
    const int64_t inside_z = std::min<int64_t>(size[0], std::min<int64_t>(r.z_end, img.size(1)) - start[0]);
    const int64_t inside_y = std::min<int64_t>(size[1], img.size(2) - start[1]);
    const int64_t inside_x = std::min<int64_t>(size[2], img.size(3) - start[2]);
    torch::Tensor outside = torch::ones({size[0], size[1], size[2]}, torch::kBool);
    outside.narrow(0, 0, inside_z).narrow(1, 0, inside_y).narrow(2, 0, inside_x).fill_(false);
    if (inside_z < size[0]) x.narrow(1, inside_z, size[0] - inside_z).fill_(c.entry.background);
    y.masked_fill_(outside.unsqueeze(0), 0);
    torch::Tensor aff = infer::affinities_from_labels(y[0]);  // [3, d, h, w]
    // An edge is defined when both of its voxels are inside the (training part of the) volume.
    for (int64_t a = 0; a < 3; ++a) {
      const int64_t n = outside.size(a);
      torch::Tensor bad = outside.clone();
      if (n > 1) bad.narrow(a, 1, n - 1).logical_or_(outside.narrow(a, 0, n - 1));
      mask[a].masked_fill_(bad, 0.0);
    }
    // Augmentation: flips per axis and an in-plane transpose (the affinity channels follow).
    for (int64_t a = 0; a < 3; ++a) {
      if (rng.bernoulli(0.5)) {
        // Flipping axis a moves each edge's "previous neighbour" to the other side: shift by one.
        x = x.flip({a + 1});
        y = y.flip({a + 1});
        torch::Tensor keep = mask.clone();
        aff = infer::affinities_from_labels(y[0]);
        torch::Tensor flipped = keep.flip({a + 1});
        torch::Tensor m = torch::zeros_like(keep);
        const int64_t n = size[static_cast<size_t>(a)];
        for (int64_t ch = 0; ch < 3; ++ch) {
          if (ch != a) {
            m[ch].copy_(flipped[ch]);
          } else if (n > 1) {
            m[ch].narrow(a, 1, n - 1).copy_(flipped[ch].narrow(a, 0, n - 1));
          }
        }
        mask = m;
      }
    }
    if (square && rng.bernoulli(0.5)) {
      x = x.transpose(2, 3);
      y = y.transpose(2, 3);
      aff = infer::affinities_from_labels(y[0].contiguous());
      mask = torch::stack({mask[0].transpose(1, 2), mask[2].transpose(1, 2), mask[1].transpose(1, 2)});
    }
    b.image[i].copy_(x);
    b.target[i].copy_(aff);
    b.mask[i].copy_(mask);
    b.label[i].copy_(y);
  }
  return b;
}

Batch AffinityTask::next_batch() {
  AffinityBatch b = make_batch(index_++);
  const int64_t n = b.image.size(0);
  return {std::move(b), n};
}

Losses AffinityTask::compute(const Batch& b, const StepContext& ctx) {
  const auto& batch = std::any_cast<const AffinityBatch&>(b.value);
  const torch::Tensor image = ctx.to_device(batch.image);  // [B, C, d, h, w]
  const torch::Tensor target = batch.target.to(ctx.device);
  const torch::Tensor mask = batch.mask.to(ctx.device);
  torch::Tensor logits;
  {
    auto autocast = ctx.autocast();
    logits = model_->forward(image);  // [B, 3, d, h, w]
  }
  losses::AffinityLossOptions o;
  o.balance = cfg_.finetune.affinity_balance;
  torch::Tensor loss = losses::affinity_loss(logits.to(torch::kFloat), target, mask, o);
  return {loss, {{"affinity", loss}}};
}

void AffinityTask::restore(const json& state) {
  GTGM_CHECK(state.contains("affinity_batch"), "affinity task: loader state lacks 'affinity_batch' (got {})",
             state.dump());
  index_ = state.at("affinity_batch").get<int64_t>();
}

}  // namespace gtgm::train
