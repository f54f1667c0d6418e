#pragma once
// Tiny in-memory volumes and caches for the data tests (a few thousand voxels each).
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/plan.h"
#include "gtgm/data/preprocess.h"
#include "gtgm/io/volume.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace gtgm::test {

/// A volume [C, D, H, W] whose voxel values encode their index: v = 10000*d + 100*h + w (+ c*1e6).
inline io::Volume index_volume(int64_t c, int64_t d, int64_t h, int64_t w) {
  auto z = torch::arange(d, torch::kFloat).view({1, d, 1, 1});
  auto y = torch::arange(h, torch::kFloat).view({1, 1, h, 1});
  auto x = torch::arange(w, torch::kFloat).view({1, 1, 1, w});
  auto ch = torch::arange(c, torch::kFloat).view({c, 1, 1, 1});
  io::Volume v;
  v.data = (ch * 1e6 + z * 10000 + y * 100 + x).contiguous();
  return v;
}

/// A phantom: a bright ellipsoid (label 1) with a small dark core (label 2) in a noisy
/// background, deterministic from `seed`. Returns {image [1, D, H, W] float, label [1, D, H, W] int64}.
inline std::pair<io::Volume, io::Volume> phantom(int64_t d, int64_t h, int64_t w, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto z = torch::linspace(-1, 1, d).view({d, 1, 1});
  auto y = torch::linspace(-1, 1, h).view({1, h, 1});
  auto x = torch::linspace(-1, 1, w).view({1, 1, w});
  const double cz = 0.2 * (static_cast<double>(seed % 3) - 1.0);
  auto r = ((z - cz) / 0.7).pow(2) + (y / 0.6).pow(2) + (x / 0.5).pow(2);
  auto organ = r < 1.0;
  auto core = r < 0.2;
  auto img = torch::full({d, h, w}, -800.0f) + torch::randn({d, h, w}, gen) * 20.0f;
  img = torch::where(organ, img + 900.0f, img);
  img = torch::where(core, img - 300.0f, img);
  io::Volume vi, vl;
  vi.data = img.unsqueeze(0).contiguous();
  vl.data = (organ.to(torch::kLong) + core.to(torch::kLong)).unsqueeze(0).contiguous();
  vi.geometry.spacing = {1.0, 1.0, 2.0};
  vl.geometry = vi.geometry;
  return {vi, vl};
}

/// Writes a complete cache (plan.json, fingerprint.json, cache.json, cases/) of `n` phantom
/// cases of size d x h x w into `dir` and opens it.
inline std::shared_ptr<const data::CacheDataset> make_tiny_cache(const std::filesystem::path& dir, int n, int64_t d,
                                                                 int64_t h, int64_t w, bool labels = true,
                                                                 config::DataConfig cfg = {}) {
  std::vector<std::pair<io::Volume, io::Volume>> cases;
  std::vector<data::CaseFingerprint> fps;
  for (int i = 0; i < n; ++i) {
    cases.push_back(phantom(d, h, w, static_cast<uint64_t>(100 + i)));
    fps.push_back(data::fingerprint_case("case" + std::to_string(i), cases.back().first,
                                         labels ? &cases.back().second : nullptr, cfg.preprocess, 7));
  }
  const auto fp = data::summarize_fingerprint(fps, cfg.preprocess);
  const auto plan = data::make_plan(fp, cfg);
  std::filesystem::create_directories(dir);
  core::atomic_write_text(dir / "plan.json", plan.to_json());
  core::atomic_write_text(dir / "fingerprint.json", fp.to_json());
  std::vector<data::CacheEntry> entries;
  for (int i = 0; i < n; ++i) {
    const auto pc = data::preprocess_case(cases[static_cast<size_t>(i)].first,
                                          labels ? &cases[static_cast<size_t>(i)].second : nullptr, plan, 11);
    entries.push_back(data::write_cache_case(dir, "case" + std::to_string(i), pc, plan));
  }
  data::write_cache_index(dir, entries);
  return data::CacheDataset::open(dir);
}

/// Writes a 3-case MSD task (NIfTI int16 images, labels 0/1/2, dataset.json) under `root`; case_1
/// has a non-identity direction and anisotropic spacing.
inline void write_msd_task(const std::filesystem::path& root) {
  std::filesystem::create_directories(root / "imagesTr");
  std::filesystem::create_directories(root / "labelsTr");
  std::string training;
  for (int i = 0; i < 3; ++i) {
    auto [img, lab] = phantom(8, 12, 10, static_cast<uint64_t>(20 + i));
    if (i == 1) {
      img.geometry.direction = {0, -1, 0, 1, 0, 0, 0, 0, 1};
      img.geometry.spacing = {0.8, 0.9, 2.5};
      img.geometry.origin = {10, -5, 3};
    }
    lab.geometry = img.geometry;
    img.data = img.data.to(torch::kShort);
    const std::string id = "case_" + std::to_string(i);
    io::write_volume(img, root / "imagesTr" / (id + ".nii.gz"));
    io::write_volume(lab, root / "labelsTr" / (id + ".nii.gz"));
    training += std::string(i ? ", " : "") + "{\"image\": \"./imagesTr/" + id + ".nii.gz\", \"label\": \"./labelsTr/" +
                id + ".nii.gz\"}";
  }
  write_file(root / "dataset.json",
             "{\"name\": \"tiny\", \"modality\": {\"0\": \"CT\"}, \"labels\": {\"0\": \"background\", \"1\": "
             "\"organ\", \"2\": \"core\"}, \"training\": [" +
                 training + "], \"test\": []}");
}

/// Breaks two cases of a write_msd_task folder: case_0's label on another grid, case_2's label a
/// 0/255 mask.
inline void break_msd_task(const std::filesystem::path& root) {
  auto lab0 = io::read_volume(root / "labelsTr/case_0.nii.gz");
  lab0.data = lab0.data.slice(3, 0, 9).contiguous();
  io::write_volume(lab0, root / "labelsTr/case_0.nii.gz");
  auto lab2 = io::read_volume(root / "labelsTr/case_2.nii.gz");
  lab2.data = (lab2.data > 0).to(torch::kLong) * 255;
  io::write_volume(lab2, root / "labelsTr/case_2.nii.gz");
}

}  // namespace gtgm::test
