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
    : ds_(std::move(dataset)),
      cfg_(cfg),
      opt_(options),
      schedule_(static_cast<int64_t>(ds_->size()), cfg.samples_per_epoch, cfg.batch_size, options.rank,
                options.world_size, options.seed),
      worker_augment_(augment_in_workers(cfg.augment_on, options.device)),
      pin_(cfg.pin_memory && options.device.is_cuda()) {
  GTGM_CHECK(cfg_.crop_size.size() == 3, "data.crop_size needs 3 values [D, H, W], got {}", cfg_.crop_size.size());
  const int64_t channels = ds_->at(0).image.header().shape[0];
  for (size_t i = 0; i < ds_->size(); ++i) {
    const auto& c = ds_->at(i);
    GTGM_CHECK(c.label.valid(), "case '{}' has no label; the segmentation loader needs labelled cases", c.entry.id);
    GTGM_CHECK(c.image.header().shape[0] == channels, "case '{}' has {} channels but case '{}' has {}", c.entry.id,
               c.image.header().shape[0], ds_->at(0).entry.id, channels);
  }
  const int workers = cfg_.num_workers;
  queue_ = std::make_unique<Prefetcher<Item>>(
      [this](int64_t b) { return build(b); }, workers, std::max(cfg_.prefetch, workers),
      [](int) { limit_intraop_threads_of_this_thread(); }, "segmentation loader");
}

SegLoader::~SegLoader() = default;

SegLoader::Item SegLoader::build(int64_t b) const {
  const Index3 patch{cfg_.crop_size[0], cfg_.crop_size[1], cfg_.crop_size[2]};
  const int64_t n = schedule_.batch_size();
  const int64_t epoch = b / schedule_.batches_per_epoch();
  const int64_t first = (b % schedule_.batches_per_epoch()) * n;
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
    Rng rng(opt_.seed, {kSegTag, static_cast<uint64_t>(epoch), static_cast<uint64_t>(opt_.rank),
                        static_cast<uint64_t>(first + i)});
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

LoaderState SegLoader::state() const { return detail::make_state(queue_->position(), schedule_, opt_); }

void SegLoader::restore(const LoaderState& s) {
  queue_->reset(detail::restore_position(s, state(), "segmentation loader"));
}

}  // namespace gtgm::data
