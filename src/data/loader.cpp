// Shared loader pieces: the epoch schedule, loader state, thread limits.
#include "gtgm/data/loader.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <nlohmann/json.hpp>
#include <numeric>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/seed.h"
#include "gtgm/data/rng.h"

namespace gtgm::data {

using nlohmann::json;

std::string LoaderState::to_json() const {
  json j{{"epoch", epoch},
         {"position", position},
         {"seed", seed},
         {"rank", rank},
         {"world_size", world_size},
         {"batch_size", batch_size},
         {"batches_per_epoch", batches_per_epoch}};
  return j.dump();
}

LoaderState LoaderState::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    GTGM_THROW("loader state is not valid JSON ({}): '{}'", e.what(), text.substr(0, 200));
  }
  LoaderState s;
  const auto get = [&](const char* key, auto& out) {
    GTGM_CHECK(j.contains(key), "loader state has no '{}' key: '{}'", key, text.substr(0, 200));
    try {
      j.at(key).get_to(out);
    } catch (const json::exception& e) {
      GTGM_THROW("loader state key '{}' has the wrong type ({})", key, e.what());
    }
  };
  get("epoch", s.epoch);
  get("position", s.position);
  get("seed", s.seed);
  get("rank", s.rank);
  get("world_size", s.world_size);
  get("batch_size", s.batch_size);
  get("batches_per_epoch", s.batches_per_epoch);
  return s;
}

EpochSchedule::EpochSchedule(int64_t num_cases, int64_t samples_per_epoch, int64_t batch_size, int rank, int world_size,
                             uint64_t seed)
    : num_cases_(num_cases), batch_size_(batch_size), rank_(rank), world_(world_size), seed_(seed) {
  GTGM_CHECK(num_cases > 0, "the loader has no cases");
  GTGM_CHECK(batch_size > 0, "data.batch_size must be >= 1, got {}", batch_size);
  GTGM_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank {} is not in [0, world_size {})", rank,
             world_size);
  const int64_t wanted = samples_per_epoch > 0 ? samples_per_epoch : num_cases;
  const int64_t per_step = batch_size * world_size;
  global_ = (wanted + per_step - 1) / per_step * per_step;
  batches_per_epoch_ = global_ / per_step;
}

std::vector<int64_t> EpochSchedule::rank_samples(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (memo_epoch_ == epoch) return memo_;
  // The global list: seeded permutations of all cases, back to back, cut to global_ entries.
  std::vector<int64_t> all;
  all.reserve(static_cast<size_t>(global_ + num_cases_));
  for (uint64_t k = 0; static_cast<int64_t>(all.size()) < global_; ++k) {
    std::vector<int64_t> perm(static_cast<size_t>(num_cases_));
    std::iota(perm.begin(), perm.end(), 0);
    Rng rng(seed_, {0x65706f6368ULL, static_cast<uint64_t>(epoch), k});
    for (int64_t i = num_cases_ - 1; i > 0; --i)
      std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(rng.randint(0, i))]);
    all.insert(all.end(), perm.begin(), perm.end());
  }
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(batches_per_epoch_ * batch_size_));
  for (int64_t i = rank_; i < global_; i += world_) mine.push_back(all[static_cast<size_t>(i)]);
  memo_epoch_ = epoch;
  memo_ = mine;
  return mine;
}

int64_t EpochSchedule::case_of(int64_t b, int64_t i) const {
  const int64_t epoch = b / batches_per_epoch_;
  const int64_t j = (b % batches_per_epoch_) * batch_size_ + i;
  return rank_samples(epoch)[static_cast<size_t>(j)];
}

LoaderBase::LoaderBase(std::shared_ptr<const CacheDataset> dataset, const config::DataConfig& cfg,
                       LoaderOptions options, std::string what)
    : ds_(std::move(dataset)),
      cfg_(cfg),
      opt_(options),
      schedule_(static_cast<int64_t>(ds_->size()), cfg.samples_per_epoch, cfg.batch_size, options.rank,
                options.world_size, options.seed),
      worker_augment_(augment_in_workers(cfg.augment_on, options.device)),
      pin_(cfg.pin_memory && options.device.is_cuda()),
      what_(std::move(what)) {
  GTGM_CHECK(cfg_.crop_size.size() == 3, "data.crop_size needs 3 values [D, H, W], got {}", cfg_.crop_size.size());
  crop_ = {cfg_.crop_size[0], cfg_.crop_size[1], cfg_.crop_size[2]};
  check_crop_fits();
}

void LoaderBase::check_crop_fits() const {
  // A case smaller than the crop along an axis is padded (nnU-Net does the same for small cases).
  // A crop many times the case is a wrong data.crop_size (or target spacing): it would train on
  // padding, and a huge one exhausts memory long before the first step. Checked before any worker
  // starts, naming the case.
  static const char* kAxis[] = {"D", "H", "W"};
  int64_t padded = 0;
  std::string first_padded;
  for (size_t i = 0; i < ds_->size(); ++i) {
    const CacheCase& c = ds_->at(i);
    const auto& shape = c.image.header().shape;  // [C, D, H, W]
    bool pads = false;
    for (int a = 0; a < 3; ++a) {
      const int64_t extent = shape[static_cast<size_t>(a + 1)];
      GTGM_CHECK(crop_[static_cast<size_t>(a)] <= kMaxCropOverCase * extent,
                 "{}: data.crop_size [{}, {}, {}] is more than {}x case '{}' along {} (its cached shape [D, H, W] = "
                 "[{}, {}, {}]): the crops would be mostly padding; expected a crop at most {}x every case (lower "
                 "data.crop_size, or check data.preprocess.target_spacing)",
                 what_, crop_[0], crop_[1], crop_[2], kMaxCropOverCase, c.entry.id, kAxis[a], shape[1], shape[2],
                 shape[3], kMaxCropOverCase);
      pads = pads || crop_[static_cast<size_t>(a)] > extent;
    }
    if (pads && padded++ == 0)
      first_padded = fmt::format("'{}' [{}, {}, {}]", c.entry.id, shape[1], shape[2], shape[3]);
  }
  if (padded > 0 && opt_.rank == 0) {
    GTGM_WARN(
        "{}: {} of {} cases are smaller than data.crop_size [{}, {}, {}] along some axis (first: {}); their "
        "crops are padded",
        what_, padded, ds_->size(), crop_[0], crop_[1], crop_[2], first_padded);
  }
}

LoaderState LoaderBase::state() const {
  const int64_t b = queue_position();
  LoaderState s;
  s.epoch = b / schedule_.batches_per_epoch();
  s.position = b % schedule_.batches_per_epoch();
  s.seed = opt_.seed;
  s.rank = opt_.rank;
  s.world_size = opt_.world_size;
  s.batch_size = schedule_.batch_size();
  s.batches_per_epoch = schedule_.batches_per_epoch();
  return s;
}

void LoaderBase::restore(const LoaderState& s) {
  const LoaderState mine = state();
  const std::string& what = what_;
  GTGM_CHECK(s.seed == mine.seed && s.rank == mine.rank && s.world_size == mine.world_size &&
                 s.batch_size == mine.batch_size && s.batches_per_epoch == mine.batches_per_epoch,
             "cannot resume the {}: the saved state is for seed {}, rank {}/{}, batch size {}, {} batches per epoch, "
             "but this run has seed {}, rank {}/{}, batch size {}, {} batches per epoch",
             what, s.seed, s.rank, s.world_size, s.batch_size, s.batches_per_epoch, mine.seed, mine.rank,
             mine.world_size, mine.batch_size, mine.batches_per_epoch);
  GTGM_CHECK(s.epoch >= 0 && s.position >= 0 && s.position < s.batches_per_epoch,
             "cannot resume the {}: state out of range (epoch {}, position {} of {})", what, s.epoch, s.position,
             s.batches_per_epoch);
  queue_reset(s.epoch * s.batches_per_epoch + s.position);
}

Rng LoaderBase::sample_rng(uint64_t tag, int64_t b, int64_t i) const {
  const int64_t epoch = b / schedule_.batches_per_epoch();
  const int64_t first = (b % schedule_.batches_per_epoch()) * schedule_.batch_size();
  return Rng(opt_.seed,
             {tag, static_cast<uint64_t>(epoch), static_cast<uint64_t>(opt_.rank), static_cast<uint64_t>(first + i)});
}

bool augment_in_workers(config::AugmentOn augment_on, const torch::Device& device) {
  switch (augment_on) {
    case config::AugmentOn::Worker:
      return true;
    case config::AugmentOn::Device:
      return false;
    case config::AugmentOn::Auto:
      break;
  }
  return !device.is_cuda();
}

void limit_intraop_threads_of_this_thread() {
  // Initialise this thread's ATen thread settings first (a later lazy init would undo ours),
  // then set the OpenMP ICV of this thread only, through whichever OpenMP runtime LibTorch loaded.
  (void)at::get_num_threads();
  using SetFn = void (*)(int);
  static const auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (set != nullptr) set(1);
}

}  // namespace gtgm::data
