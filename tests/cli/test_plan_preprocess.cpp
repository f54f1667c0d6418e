// End-to-end: `gtgm plan --check`, `gtgm plan`, `gtgm preprocess` and `gtgm bench data` on a tiny
// MSD task written as real NIfTI files.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/data_fixtures.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;

std::string on(const fs::path& root) {
  return "--set data.root=" + root.string() + " --set data.preprocess.workers=2 --log-level warn";
}

TEST(CliPlan, CheckPlanAndPreprocessATask) {
  test::TempDir tmp;
  const auto root = tmp / "task";
  test::write_msd_task(root);

  auto r = test::run_gtgm("plan --check " + on(root));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("every case of"), std::string::npos) << r.output;

  r = test::run_gtgm("plan " + on(root));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"target_spacing\""), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(root / "gtgm_cache/plan.json"));

  r = test::run_gtgm("preprocess " + on(root));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 written, 0 reused"), std::string::npos) << r.output;
  for (const char* f : {"cache.json", "fingerprint.json", "cases/case_0.gvol", "cases/case_0_seg.gvol"}) {
    EXPECT_TRUE(fs::exists(root / "gtgm_cache" / f)) << f;
  }
  r = test::run_gtgm("preprocess " + on(root));
  EXPECT_NE(r.output.find("0 written, 3 reused"), std::string::npos) << r.output;

  // A changed preprocessing key without re-planning: a config error (exit 2) naming the key.
  r = test::run_gtgm("preprocess " + on(root) + " --set data.preprocess.crop_nonzero=false");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("data.preprocess.crop_nonzero"), std::string::npos) << r.output;

  // The data benchmark runs on this cache.
  r = test::run_gtgm("bench data --workers 1 --iters 1 --warmup 0 --data-cache " + (root / "gtgm_cache").string() +
                     " --data-pretrain-crop 4 8 8 --data-seg-patch 4 8 8");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pairs/s"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("patches/s"), std::string::npos) << r.output;
}

TEST(CliPlan, CheckReportsEveryBadCase) {
  test::TempDir tmp;
  const auto root = tmp / "task";
  test::write_msd_task(root);
  test::break_msd_task(root);
  const auto r = test::run_gtgm("plan --check " + on(root));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("case_0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("case_2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("255"), std::string::npos) << r.output;  // the 0/255 mask hint
  EXPECT_EQ(r.output.find("[case_1]"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace gtgm
