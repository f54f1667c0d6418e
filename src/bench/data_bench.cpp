#include "gtgm/bench/data_bench.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/timer.h"
#include "gtgm/data/loader.h"
#include "gtgm/data/preprocess.h"

namespace gtgm::bench {

namespace fs = std::filesystem;

namespace {

/// A CT-like phantom: air, a body ellipse, two organs (labels 1 and 2), noise.
std::pair<io::Volume, io::Volume> ct_phantom(const std::array<int64_t, 3>& s, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const auto z = torch::linspace(-1, 1, s[0]).view({s[0], 1, 1});
  const auto y = torch::linspace(-1, 1, s[1]).view({1, s[1], 1});
  const auto x = torch::linspace(-1, 1, s[2]).view({1, 1, s[2]});
  const double shift = 0.1 * static_cast<double>(seed % 5) - 0.2;
  const auto body = (y / 0.7).pow(2) + (x / 0.9).pow(2) < 1.0;
  const auto organ1 = ((z - shift) / 0.6).pow(2) + ((y + 0.2) / 0.3).pow(2) + ((x - 0.3) / 0.35).pow(2) < 1.0;
  const auto organ2 = (z / 0.3).pow(2) + ((y - 0.25) / 0.15).pow(2) + ((x + 0.35 + shift) / 0.15).pow(2) < 1.0;
  auto img = torch::full({s[0], s[1], s[2]}, -1000.0f);
  img = torch::where(body, torch::full_like(img, 0.0f), img);
  img = torch::where(organ1, torch::full_like(img, 60.0f), img);
  img = torch::where(organ2, torch::full_like(img, 150.0f), img);
  img += torch::randn({s[0], s[1], s[2]}, gen) * 20.0f;
  auto lab = organ1.to(torch::kLong);
  lab = torch::where(organ2, torch::full_like(lab, 2), lab);
  io::Volume vi, vl;
  vi.data = img.unsqueeze(0).contiguous();
  vl.data = lab.unsqueeze(0).contiguous();
  vi.geometry.spacing = {0.8, 0.8, 2.5};
  vl.geometry = vi.geometry;
  vi.source = fmt::format("synthetic{}", seed);
  return {vi, vl};
}

}  // namespace

void write_synthetic_cache(const std::string& dir, int cases, const std::array<int64_t, 3>& volume, uint64_t seed) {
  GTGM_CHECK(cases >= 1, "bench data: need at least one synthetic case, got {}", cases);
  config::DataConfig cfg;
  std::vector<std::pair<io::Volume, io::Volume>> vols;
  std::vector<data::CaseFingerprint> fps;
  for (int i = 0; i < cases; ++i) {
    vols.push_back(ct_phantom(volume, seed + static_cast<uint64_t>(i)));
    fps.push_back(data::fingerprint_case(fmt::format("synth{:03d}", i), vols.back().first, &vols.back().second,
                                         cfg.preprocess, seed));
  }
  const auto fp = data::summarize_fingerprint(std::move(fps), cfg.preprocess);
  const auto plan = data::make_plan(fp, cfg);
  fs::create_directories(dir);
  core::atomic_write_text(fs::path(dir) / "plan.json", plan.to_json());
  core::atomic_write_text(fs::path(dir) / "fingerprint.json", fp.to_json());
  std::vector<data::CacheEntry> entries;
  for (int i = 0; i < cases; ++i) {
    const auto& [img, lab] = vols[static_cast<size_t>(i)];
    const auto pc = data::preprocess_case(img, &lab, plan, seed + static_cast<uint64_t>(i));
    entries.push_back(data::write_cache_case(dir, fmt::format("synth{:03d}", i), pc, plan, img.source));
  }
  data::write_cache_index(dir, entries);
}

DataBenchResult run_data_bench(const DataBenchOptions& o) {
  DataBenchResult r;
  r.workers = o.workers > 0 ? o.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  GTGM_CHECK(o.batches >= 1 && o.warmup >= 0 && o.batch_size >= 1,
             "bench data: batches ({}) and batch size ({}) must be >= 1, warmup ({}) >= 0", o.batches, o.batch_size,
             o.warmup);
  std::string dir = o.cache_dir;
  std::unique_ptr<fs::path> temp;
  if (dir.empty()) {
    if (!o.keep_cache.empty()) {
      dir = o.keep_cache;
    } else {
      temp = std::make_unique<fs::path>(fs::temp_directory_path() /
                                        fmt::format("gtgm_bench_data_{}", static_cast<long>(::getpid())));
      dir = temp->string();
    }
    GTGM_INFO("bench data: writing a synthetic cache ({} cases of {}x{}x{}) to {}", o.cases, o.volume[0], o.volume[1],
              o.volume[2], dir);
    core::Stopwatch w;
    write_synthetic_cache(dir, o.cases, o.volume, o.seed);
    GTGM_INFO("bench data: cache written in {:.1f} s", w.seconds());
  }
  r.cache_dir = dir;
  struct Cleanup {
    std::unique_ptr<fs::path>& p;
    ~Cleanup() {
      std::error_code ec;
      if (p) fs::remove_all(*p, ec);
    }
  } cleanup{temp};

  auto cfg = o.data;
  cfg.batch_size = o.batch_size;
  cfg.num_workers = r.workers;
  cfg.prefetch = std::max(cfg.prefetch, 2 * r.workers);
  cfg.samples_per_epoch = 0;
  data::LoaderOptions lo;
  lo.seed = o.seed;
  lo.device = torch::kCPU;
  {
    const auto ds = data::CacheDataset::open(dir);
    cfg.crop_size = {static_cast<int>(o.pretrain_crop[0]), static_cast<int>(o.pretrain_crop[1]),
                     static_cast<int>(o.pretrain_crop[2])};
    data::PretrainLoader loader(ds, cfg, lo);
    for (int i = 0; i < o.warmup; ++i) loader.next();
    core::Stopwatch w;
    for (int i = 0; i < o.batches; ++i) loader.next();
    const double s = w.seconds();
    r.pretrain_pairs_per_s = static_cast<double>(o.batches * o.batch_size) / s;
    r.pretrain_ms_per_batch = 1000.0 * s / o.batches;
  }
  {
    const auto ds = data::CacheDataset::open(dir, {}, /*need_labels=*/true);
    cfg.crop_size = {static_cast<int>(o.seg_patch[0]), static_cast<int>(o.seg_patch[1]),
                     static_cast<int>(o.seg_patch[2])};
    data::SegLoader loader(ds, cfg, lo);
    for (int i = 0; i < o.warmup; ++i) loader.next();
    core::Stopwatch w;
    for (int i = 0; i < o.batches; ++i) loader.next();
    const double s = w.seconds();
    r.seg_patches_per_s = static_cast<double>(o.batches * o.batch_size) / s;
    r.seg_ms_per_batch = 1000.0 * s / o.batches;
  }
  return r;
}

std::string to_json(const DataBenchResult& r, const DataBenchOptions& o) {
  nlohmann::json j{{"bench", "data"},
                   {"workers", r.workers},
                   {"batch_size", o.batch_size},
                   {"batches", o.batches},
                   {"warmup", o.warmup},
                   {"pretrain_crop", o.pretrain_crop},
                   {"pretrain_views", config::to_string(o.data.pretrain_augment.views)},
                   {"seg_patch", o.seg_patch},
                   {"cache_dir", r.cache_dir},
                   {"pretrain_pairs_per_s", r.pretrain_pairs_per_s},
                   {"seg_patches_per_s", r.seg_patches_per_s},
                   {"pretrain_ms_per_batch", r.pretrain_ms_per_batch},
                   {"seg_ms_per_batch", r.seg_ms_per_batch},
                   {"seed", o.seed}};
  return j.dump();
}

}  // namespace gtgm::bench
