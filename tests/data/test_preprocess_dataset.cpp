// plan / check / preprocess over a tiny MSD task written as real NIfTI files, and
// restore_to_source back onto the original files.
#include <gtest/gtest.h>

#include <chrono>

#include "data_fixtures.h"
#include "gtgm/config/config.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/loader.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/spatial.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;

config::Config write_task(const fs::path& root) {
  test::write_msd_task(root);
  config::Config cfg;
  cfg.data.root = root.string();
  cfg.data.cache_dir = (root / "cache").string();
  cfg.data.preprocess.workers = 2;
  return cfg;
}

TEST(PreprocessDataset, PlanPreprocessAndRestoreOnRealFiles) {
  test::TempDir tmp;
  auto cfg = write_task(tmp / "task");
  EXPECT_TRUE(data::check_dataset(cfg.data).empty());

  const auto plan = data::run_plan(cfg.data, cfg.run.seed);
  EXPECT_TRUE(fs::exists(tmp / "task/cache/plan.json"));
  EXPECT_TRUE(fs::exists(tmp / "task/cache/fingerprint.json"));
  EXPECT_EQ(plan.fingerprint.cases.size(), 3u);
  EXPECT_EQ(plan.plan.labels, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(plan.plan.normalization[0].scheme, data::NormScheme::CT);

  auto r = data::run_preprocess(cfg.data, cfg.run.seed);
  EXPECT_EQ(r.written, 3);
  EXPECT_EQ(r.reused, 0);
  r = data::run_preprocess(cfg.data, cfg.run.seed);  // second run: nothing to do
  EXPECT_EQ(r.written, 0);
  EXPECT_EQ(r.reused, 3);

  const auto ds = data::CacheDataset::open(cfg.data.cache_dir);
  ASSERT_EQ(ds->size(), 3u);
  for (size_t i = 0; i < ds->size(); ++i) {
    const auto& c = ds->at(i);
    const auto& h = c.image.header();
    // Cached in the canonical orientation at the planned spacing.
    EXPECT_NEAR(h.geometry.direction[0], 1.0, 1e-6);
    EXPECT_NEAR(h.geometry.direction[4], 1.0, 1e-6);
    EXPECT_NEAR(h.geometry.spacing_dhw()[0], plan.plan.target_spacing[0], 0.2 * plan.plan.target_spacing[0]);
    // Map the cached labels back onto the source file's grid: exact where no resampling was
    // needed (cases 0 and 2), close for the resampled, reoriented case 1.
    const auto back = data::restore_to_source(c.label.tensor().to(torch::kLong), h, data::RestoreInterp::Nearest);
    const auto src = io::read_volume(c.entry.source_label);
    EXPECT_EQ(back.data.sizes(), src.data.sizes());
    for (int k = 0; k < 9; ++k) EXPECT_NEAR(back.geometry.direction[k], src.geometry.direction[k], 1e-6);
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(back.geometry.origin[k], src.geometry.origin[k], 1e-4);
    if (c.entry.id == "case_1") {
      const double agree = (back.data == src.data.to(torch::kLong)).to(torch::kDouble).mean().item<double>();
      EXPECT_GT(agree, 0.9);
    } else {
      EXPECT_TRUE(torch::equal(back.data, src.data.to(torch::kLong))) << c.entry.id;
    }
  }
  // The loaders run on the result; positions are voxels of the source files.
  config::DataConfig dc = cfg.data;
  dc.crop_size = {4, 8, 8};
  dc.num_workers = 1;
  data::PretrainLoader l(ds, dc, {});
  const auto b = l.next();
  for (int64_t i = 0; i < b.positions.size(0); ++i) {
    const auto src =
        io::read_volume_header(ds->at(ds->index_of(b.case_ids[static_cast<size_t>(i)])).entry.source_image);
    for (int a = 0; a < 3; ++a) {
      EXPECT_GE(b.positions[i][a].item<int64_t>(), 0);
      EXPECT_LT(b.positions[i][a].item<int64_t>(), src.shape[static_cast<size_t>(a)]);
    }
  }
  // Changing a preprocessing key without re-planning is refused, naming the key.
  auto changed = cfg;
  changed.data.preprocess.orientation = config::Orientation::RAS;
  EXPECT_THROW_MSG(data::run_preprocess(changed.data, changed.run.seed),
                   "data.preprocess.orientation=LPS but the config says RAS");
}

TEST(PreprocessDataset, ReplacedSourcesAreRebuiltTouchedOnesReused) {
  // #16: replacing a label after `preprocess` was not noticed ("3 reused"): training used stale data.
  test::TempDir tmp;
  auto cfg = write_task(tmp / "task");
  EXPECT_EQ(data::run_preprocess(cfg.data, cfg.run.seed).written, 3);
  const auto entries = data::read_cache_index(cfg.data.cache_dir);
  const fs::path label = entries[1].source_label;
  const fs::path cached = fs::path(cfg.data.cache_dir) / entries[1].label;
  const auto old_cached = data::CachedArray::open(cached).tensor().clone();

  // Same content, newer mtime (a copy, a touch): hashed, found equal, reused.
  fs::last_write_time(label, fs::last_write_time(label) + std::chrono::seconds(5));
  auto r = data::run_preprocess(cfg.data, cfg.run.seed);
  EXPECT_EQ(r.written, 0);
  EXPECT_EQ(r.reused, 3);

  // A replaced label: case 1 is rebuilt from it, the others reused.
  io::Volume v = io::read_volume(label);
  v.data = torch::zeros_like(v.data);
  io::write_volume(v, label);
  r = data::run_preprocess(cfg.data, cfg.run.seed);
  EXPECT_EQ(r.written, 1);
  EXPECT_EQ(r.reused, 2);
  const auto new_cached = data::CachedArray::open(cached).tensor();
  EXPECT_FALSE(torch::equal(new_cached, old_cached));
  EXPECT_EQ(new_cached.count_nonzero().item<int64_t>(), 0);
  EXPECT_EQ(data::run_preprocess(cfg.data, cfg.run.seed).reused, 3);  // and recorded again
}

TEST(PreprocessDataset, NormalizationKeyIsRecordedAndARePlanRebuildsEveryCase) {
  test::TempDir tmp;
  auto cfg = write_task(tmp / "task");
  EXPECT_EQ(data::run_preprocess(cfg.data, cfg.run.seed).written, 3);  // modality: CT z-score
  auto range = cfg;
  range.data.preprocess.normalization = config::Normalization::Range;
  // The cache records the normalisation it was made with and refuses the other one ...
  EXPECT_THROW_MSG(data::run_preprocess(range.data, range.run.seed),
                   "data.preprocess.normalization=modality but the config says range; re-run `gtgm plan`");
  // ... and after re-planning every case is rebuilt (the plan hash changed), then reused.
  EXPECT_EQ(data::run_plan(range.data, range.run.seed).plan.normalization[0].scheme, data::NormScheme::Range);
  auto r = data::run_preprocess(range.data, range.run.seed);
  EXPECT_EQ(r.written, 3);
  EXPECT_EQ(r.reused, 0);
  EXPECT_EQ(data::run_preprocess(range.data, range.run.seed).reused, 3);
  const auto ds = data::CacheDataset::open(range.data.cache_dir);
  for (size_t i = 0; i < ds->size(); ++i) {
    const auto x = ds->at(i).image.tensor().to(torch::kFloat);
    EXPECT_GE(x.min().item<float>(), 0.0f) << ds->at(i).entry.id;  // clipped to the window, scaled to [0, 1]
    EXPECT_LE(x.max().item<float>(), 1.0f) << ds->at(i).entry.id;
    EXPECT_EQ(ds->at(i).entry.background, x.min().item<float>());
  }
}

TEST(PreprocessDataset, EveryBadCaseIsReportedAtOnce) {
  test::TempDir tmp;
  auto cfg = write_task(tmp / "task");
  test::break_msd_task(tmp / "task");

  const auto problems = data::check_dataset(cfg.data);
  std::set<std::string> bad;
  for (const auto& p : problems) bad.insert(p.case_id);
  EXPECT_EQ(bad, (std::set<std::string>{"case_0", "case_2"}));

  try {
    data::run_plan(cfg.data, cfg.run.seed);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.message();
    EXPECT_NE(m.find("failed for 2 of 3 case(s)"), std::string::npos) << m;
    EXPECT_NE(m.find("[case_0]"), std::string::npos) << m;
    EXPECT_NE(m.find("[case_2]"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace gtgm
