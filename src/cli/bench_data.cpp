// `gtgm bench data`: loader throughput (pretraining pairs/s, segmentation patches/s).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "bench_registry.h"
#include "gtgm/bench/data_bench.h"
#include "gtgm/core/atomic_file.h"

namespace gtgm::cli {

namespace {

auto& data_options() {
  static bench::DataBenchOptions o;
  return o;
}

void add_data_options(CLI::App& cmd) {
  auto& o = data_options();
  cmd.add_option("--data-cache", o.cache_dir, "data: existing preprocessing cache (default: a synthetic one)");
  cmd.add_option("--data-keep-cache", o.keep_cache, "data: write the synthetic cache here and keep it");
  cmd.add_option("--data-batch", o.batch_size, "data: batch size");
  cmd.add_option("--data-pretrain-crop", o.pretrain_crop, "data: pretraining crop D H W");
  cmd.add_option("--data-seg-patch", o.seg_patch, "data: segmentation patch D H W");
  cmd.add_option("--data-cases", o.cases, "data: synthetic cases");
  cmd.add_option("--data-volume", o.volume, "data: synthetic volume size D H W");
}

void run_data(const BenchCommon& common) {
  auto o = data_options();
  const auto cfg = load_config(common.config);
  o.data = cfg.data;
  o.seed = static_cast<uint64_t>(cfg.run.seed);
  o.workers = common.workers;
  if (common.iters > 0) o.batches = common.iters;
  if (common.warmup >= 0) o.warmup = common.warmup;
  const auto r = bench::run_data_bench(o);
  std::cout << fmt::format(
      "bench data: {} workers, batch {}, {} batches after {} warm-up (CPU, augmentation in the "
      "workers)\n",
      r.workers, o.batch_size, o.batches, o.warmup);
  std::cout << fmt::format(
      "  pretraining  {}x{}x{} crops, 2 views ({} views): {:8.2f} pairs/s   "
      "({:.1f} ms/batch)\n",
      o.pretrain_crop[0], o.pretrain_crop[1], o.pretrain_crop[2], config::to_string(o.data.pretrain_augment.views),
      r.pretrain_pairs_per_s, r.pretrain_ms_per_batch);
  std::cout << fmt::format(
      "  segmentation {}x{}x{} patches, fg oversampling + augmentation: {:8.2f} patches/s "
      "({:.1f} ms/batch)\n",
      o.seg_patch[0], o.seg_patch[1], o.seg_patch[2], r.seg_patches_per_s, r.seg_ms_per_batch);
  if (!common.json.empty()) core::atomic_write_text(common.json, bench::to_json(r, o) + "\n");
}

}  // namespace

GTGM_REGISTER_BENCH("data", "loader throughput from the cache: pretraining pairs/s, segmentation patches/s",
                    add_data_options, run_data);

}  // namespace gtgm::cli
