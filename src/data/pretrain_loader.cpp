// The pretraining loader: two overlapping augmented views per sample + the source position.
#include <algorithm>
#include <cmath>

#include "gtgm/core/error.h"
#include "gtgm/data/loader.h"
#include "gtgm/data/reference_views.h"
#include "gtgm/data/samplers.h"
#include "gtgm/data/split.h"

namespace gtgm::data {

namespace {
constexpr uint64_t kPretrainTag = 0x7072657472ULL;

/// Min-max of x to [0, 1] in place (a constant crop becomes 0): the reference views' input range
/// (the reference divides uint8 EM by 255; gtgm's cached volumes are normalised per modality).
void minmax_inplace(torch::Tensor& x) {
  const double lo = x.min().item<double>(), hi = x.max().item<double>();
  if (hi > lo) {
    x.sub_(lo).div_(hi - lo);
  } else {
    x.zero_();
  }
}
}  // namespace

struct PretrainLoader::Item {
  PretrainBatch batch;
  std::vector<PretrainViewParams> p1, p2;
  bool augmented = false;
};

PretrainLoader::PretrainLoader(std::shared_ptr<const CacheDataset> dataset, const config::DataConfig& cfg,
                               LoaderOptions options)
    : LoaderBase(std::move(dataset), cfg, options, "pretraining loader") {
  mask_ = transpose_mask(crop_, ds_->plan().target_spacing);
  em_ = cfg_.format == config::DataFormat::CREMI;
  if (cfg_.pretrain_augment.views == config::PretrainViews::Reference) check_reference_views(cfg_.pretrain_augment, crop_);
  queue_ = make_queue<Item>([this](int64_t b) { return build(b); });
}

PretrainLoader::~PretrainLoader() = default;

int64_t PretrainLoader::queue_position() const { return queue_->position(); }
void PretrainLoader::queue_reset(int64_t b) { queue_->reset(b); }

PretrainLoader::Item PretrainLoader::build(int64_t b) const {
  const auto& crop = crop_;
  const int64_t n = schedule_.batch_size();
  auto options = torch::TensorOptions().dtype(torch::kFloat);
  if (pin_) options = options.pinned_memory(true);
  Item item;
  auto& batch = item.batch;
  batch.view1 = torch::empty({n, 1, crop[0], crop[1], crop[2]}, options);
  batch.view2 = torch::empty({n, 1, crop[0], crop[1], crop[2]}, options);
  batch.positions = torch::empty({n, 3}, torch::kLong);
  batch.corners = torch::empty({n, 3}, torch::kLong);
  auto pos = batch.positions.accessor<int64_t, 2>();
  auto corner = batch.corners.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& c = ds_->at(static_cast<size_t>(schedule_.case_of(b, i)));
    Rng rng = sample_rng(kPretrainTag, b, i);
    const auto& h = c.image.header();
    // data.em_pretrain_z: an EM volume gives crops only from its training slices (the first part of
    // its depth that `finetune` trains on), never from the slices `gtgm eval` scores.
    const int64_t depth = em_ ? em_train_depth(h.shape[1], cfg_.em_pretrain_z) : h.shape[1];
    const Index3 shape{depth, h.shape[2], h.shape[3]};
    const auto src = c.image.tensor().narrow(1, 0, depth);
    const int64_t channel = rng.randint(0, h.shape[0] - 1);
    if (cfg_.pretrain_augment.views == config::PretrainViews::Reference) {
      reference_sample(c, src, shape, channel, rng, batch, i);
      continue;
    }
    const auto pair = sample_view_pair(shape, crop, cfg_.pretrain_augment.view_shift, rng);
    copy_crop(src, pair.start1, crop, c.entry.background, batch.view1[i], channel);
    copy_crop(src, pair.start2, crop, c.entry.background, batch.view2[i], channel);
    const auto at = h.to_source.apply(pair.centre);
    for (int a = 0; a < 3; ++a) {
      pos[i][a] = std::clamp<int64_t>(std::llround(at[a]), 0, h.source_shape[a] - 1);
    }
    // The corner: the crop's first and last voxels mapped to the source (a reorientation may flip
    // an axis), the smaller index per axis.
    std::array<double, 3> first{}, last{};
    for (int a = 0; a < 3; ++a) {
      first[a] = 0.5 * static_cast<double>(pair.start1[a] + pair.start2[a]);
      last[a] = first[a] + static_cast<double>(crop[a] - 1);
    }
    const auto s0 = h.to_source.apply(first), s1 = h.to_source.apply(last);
    for (int a = 0; a < 3; ++a) {
      corner[i][a] = std::clamp<int64_t>(std::llround(std::min(s0[a], s1[a])), 0, h.source_shape[a] - 1);
    }
    batch.case_ids.push_back(c.entry.id);
    const auto& sp = ds_->plan().target_spacing;
    auto p1 = draw_pretrain_view(rng, cfg_.pretrain_augment, mask_, sp);
    auto p2 = draw_pretrain_view(rng, cfg_.pretrain_augment, mask_, sp);
    // Without augmentation the views are only min-max normalised (the draws still happen, so
    // crops are the same as with augmentation).
    item.p1.push_back(opt_.augment ? p1 : PretrainViewParams{});
    item.p2.push_back(opt_.augment ? p2 : PretrainViewParams{});
  }
  if (cfg_.pretrain_augment.views == config::PretrainViews::Reference) {
    item.augmented = true;  // made in full by reference_sample
  } else if (worker_augment_) {
    batch.view1 = augment_pretrain(batch.view1, item.p1);
    batch.view2 = augment_pretrain(batch.view2, item.p2);
    if (pin_) {
      batch.view1 = batch.view1.pin_memory();
      batch.view2 = batch.view2.pin_memory();
    }
    item.augmented = true;
  }
  return item;
}

void PretrainLoader::reference_sample(const CacheCase& c, const torch::Tensor& src, const Index3& shape,
                                      int64_t channel, Rng& rng, PretrainBatch& batch, int64_t i) const {
  const auto& aug = cfg_.pretrain_augment;
  const auto& crop = crop_;
  auto draws = draw_reference_views(rng, aug, shape, crop);
  const Index3 ctx{crop[0], crop[1] + 2 * aug.context, crop[2] + 2 * aug.context};
  auto region = torch::empty({1, ctx[0], ctx[1], ctx[2]}, torch::kFloat);
  copy_crop(src, draws.corner, ctx, c.entry.background, region, channel);
  minmax_inplace(region);
  auto local = draws;
  local.corner = {0, 0, 0};
  if (!opt_.augment) {  // without augmentation: the centre crop, min-max normalised, twice
    local.shared = {};
    for (auto& v : local.views) v = RefViewDraws{};
  }
  const auto views = reference_views(region[0], local, crop, aug.context);
  batch.view1[i][0].copy_(views[0]);
  batch.view2[i][0].copy_(views[1]);
  // Captions: positions by the crop centre; the corner is the context crop's first voxel, the
  // reference's [random_z, random_y, random_x] (data_provider_pretraining_caption_match.py:256-258, 302).
  const auto& h = c.image.header();
  auto pos = batch.positions.accessor<int64_t, 2>();
  auto corner = batch.corners.accessor<int64_t, 2>();
  std::array<double, 3> centre{}, first{}, last{};
  for (int a = 0; a < 3; ++a) {
    first[a] = static_cast<double>(draws.corner[a]);
    last[a] = first[a] + static_cast<double>(ctx[a] - 1);
    centre[a] = 0.5 * (first[a] + last[a]);
  }
  const auto at = h.to_source.apply(centre);
  const auto s0 = h.to_source.apply(first), s1 = h.to_source.apply(last);
  for (int a = 0; a < 3; ++a) {
    pos[i][a] = std::clamp<int64_t>(std::llround(at[a]), 0, h.source_shape[a] - 1);
    corner[i][a] = std::clamp<int64_t>(std::llround(std::min(s0[a], s1[a])), 0, h.source_shape[a] - 1);
  }
  batch.case_ids.push_back(c.entry.id);
}

PretrainBatch PretrainLoader::next() {
  auto item = queue_->next();
  auto& batch = item.batch;
  const auto& dev = opt_.device;
  batch.view1 = batch.view1.to(dev, /*non_blocking=*/pin_);
  batch.view2 = batch.view2.to(dev, /*non_blocking=*/pin_);
  if (!item.augmented) {
    batch.view1 = augment_pretrain(batch.view1, item.p1);
    batch.view2 = augment_pretrain(batch.view2, item.p2);
  }
  return std::move(batch);
}

}  // namespace gtgm::data
