#pragma once
/// `gtgm bench data`: loader throughput from the preprocessing cache. Pretraining pairs/s (two
/// augmented views per sample, PAPER.md augmentation) and segmentation patches/s (foreground
/// oversampling + segmentation augmentation), on the CPU with N loader workers. Without a cache
/// it first writes a synthetic one (phantom volumes through the real plan/preprocess path).
#include <array>
#include <cstdint>
#include <string>

#include "gtgm/config/data_config.h"

namespace gtgm::bench {

struct DataBenchOptions {
  std::string cache_dir;   ///< existing cache; "" = synthesize into `keep_cache` or a temp dir
  std::string keep_cache;  ///< where to write (and keep) the synthetic cache; "" = temp, removed
  int workers = 0;         ///< loader threads; 0 = all cores
  int batch_size = 2;
  int batches = 20;  ///< measured batches per loader
  int warmup = 3;    ///< batches before timing starts
  std::array<int64_t, 3> pretrain_crop{32, 160, 160};
  std::array<int64_t, 3> seg_patch{128, 128, 128};
  int cases = 4;                                ///< synthetic cases
  std::array<int64_t, 3> volume{96, 256, 256};  ///< synthetic volume size (D, H, W)
  uint64_t seed = 42;
  config::DataConfig data;  ///< augmentation settings, foreground_oversample, prefetch
};

struct DataBenchResult {
  int workers = 0;
  std::string cache_dir;
  double pretrain_pairs_per_s = 0;
  double seg_patches_per_s = 0;
  double pretrain_ms_per_batch = 0;
  double seg_ms_per_batch = 0;
};

/// Writes a synthetic CT-like cache of `cases` phantoms of `volume` voxels into `dir`.
void write_synthetic_cache(const std::string& dir, int cases, const std::array<int64_t, 3>& volume, uint64_t seed);

/// Runs both measurements (prints progress at info level) and returns the figures.
DataBenchResult run_data_bench(const DataBenchOptions& options);

/// The result as one JSON object (for scripts/bench/data_reference.py).
std::string to_json(const DataBenchResult& r, const DataBenchOptions& o);

}  // namespace gtgm::bench
