// The segmentation loader: patches with foreground oversampling + segmentation augmentation.
#include "gtgm/core/error.h"
#include "gtgm/data/loader.h"
#include "gtgm/data/samplers.h"

namespace gtgm::data {

namespace {
constexpr uint64_t kSegTag = 0x7365676dULL;
}  // namespace

struct SegLoader::Item {
  SegBatch batch;
  std::vector<SegSampleParams> params;
  bool augmented = false;
};

SegLoader::SegLoader(std::shared_ptr<const CacheDataset> dataset, const config::DataConfig& cfg, LoaderOptions options)
    : LoaderBase(std::move(dataset), cfg, options, "segmentation loader") {
  const int64_t channels = ds_->at(0).image.header().shape[0];
  for (size_t i = 0; i < ds_->size(); ++i) {
    const auto& c = ds_->at(i);
    GTGM_CHECK(c.label.valid(), "case '{}' has no label; the segmentation loader needs labelled cases", c.entry.id);
    GTGM_CHECK(c.image.header().shape[0] == channels, "case '{}' has {} channels but case '{}' has {}", c.entry.id,
               c.image.header().shape[0], ds_->at(0).entry.id, channels);
  }
  queue_ = make_queue<Item>([this](int64_t b) { return build(b); });
}

SegLoader::~SegLoader() = default;

int64_t SegLoader::queue_position() const { return queue_->position(); }
void SegLoader::queue_reset(int64_t b) { queue_->reset(b); }

SegLoader::Item SegLoader::build(int64_t b) const {
  const Index3& patch = crop_;
  const int64_t n = schedule_.batch_size();
  const int64_t channels = ds_->at(0).image.header().shape[0];
  auto fopt = torch::TensorOptions().dtype(torch::kFloat);
  auto lopt = torch::TensorOptions().dtype(torch::kLong);
  if (pin_) {
    fopt = fopt.pinned_memory(true);
    lopt = lopt.pinned_memory(true);
  }
  Item item;
  auto& batch = item.batch;
  batch.image = torch::empty({n, channels, patch[0], patch[1], patch[2]}, fopt);
  batch.label = torch::empty({n, 1, patch[0], patch[1], patch[2]}, lopt);
  for (int64_t i = 0; i < n; ++i) {
    const auto& c = ds_->at(static_cast<size_t>(schedule_.case_of(b, i)));
    Rng rng = sample_rng(kSegTag, b, i);
    const auto& h = c.image.header();
    const Index3 shape{h.shape[1], h.shape[2], h.shape[3]};
    Index3 start{};
    const bool force_fg = rng.bernoulli(cfg_.foreground_oversample);
    if (force_fg && !c.entry.fg.empty()) {
      auto it = c.entry.fg.begin();
      std::advance(it, rng.randint(0, static_cast<int64_t>(c.entry.fg.size()) - 1));
      const auto& locs = it->second;
      const auto& loc = locs[static_cast<size_t>(rng.randint(0, static_cast<int64_t>(locs.size()) - 1))];
      start = crop_start_around(shape, patch, loc, rng);
    } else {
      start = random_crop_start(shape, patch, rng);
    }
    copy_crop(c.image.tensor(), start, patch, c.entry.background, batch.image[i]);
    copy_crop(c.label.tensor(), start, patch, 0.0, batch.label[i]);
    batch.case_ids.push_back(c.entry.id);
    item.params.push_back(opt_.augment ? draw_seg_params(rng, cfg_.seg_augment, patch, ds_->plan().target_spacing)
                                       : SegSampleParams{});
  }
  if (worker_augment_ && opt_.augment) {
    std::tie(batch.image, batch.label) = augment_seg(batch.image, batch.label, item.params);
    if (pin_) {
      batch.image = batch.image.pin_memory();
      batch.label = batch.label.pin_memory();
    }
  }
  item.augmented = worker_augment_ || !opt_.augment;
  return item;
}

SegBatch SegLoader::next() {
  auto item = queue_->next();
  auto& batch = item.batch;
  batch.image = batch.image.to(opt_.device, /*non_blocking=*/pin_);
  batch.label = batch.label.to(opt_.device, /*non_blocking=*/pin_);
  if (!item.augmented) std::tie(batch.image, batch.label) = augment_seg(batch.image, batch.label, item.params);
  return std::move(batch);
}

}  // namespace gtgm::data
