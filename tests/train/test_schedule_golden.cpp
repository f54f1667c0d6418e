// The paper configs' learning-rate schedule against the GTGM reference code's own scheduler
// (pretrain/utils/utils_trainer.py:237-243, built as it is by scripts/reference/schedule_reference.py).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "gtgm/config/load.h"
#include "gtgm/train/schedule.h"
#include "test_util.h"

namespace gtgm::train {
namespace {

const std::vector<int64_t> kSteps = {0, 1, 2, 5000, 9999, 10000, 10001, 15000, 25000, 29999, 30000, 70000, 199999};

void expect_schedule(const config::Config& cfg, const std::vector<double>& want) {
  ASSERT_EQ(want.size(), kSteps.size());
  for (size_t i = 0; i < kSteps.size(); ++i) {
    const double got = learning_rate(cfg.optim, kSteps[i], cfg.train.steps);
    EXPECT_LE(std::abs(got - want[i]), 1e-12 * std::abs(want[i])) << "step " << kSteps[i] << ": " << got << " vs "
                                                                    << want[i];
  }
}

// Printed by scripts/reference/schedule_reference.py (torch 1.13): CosineAnnealingWarmRestarts with
// T_0 = int(200000 // 4 // 2 * 0.4) = 10000, eta_min 1e-8, lr 2e-5, stepped once per iteration.
TEST(ScheduleGolden, PaperConfigMatchesReferenceScheduler) {
  const auto cfg = config::load_config(std::string(GTGM_SOURCE_ROOT) + "/configs/pretrain/ct.yaml");
  EXPECT_EQ(cfg.optim.schedule, config::Schedule::CosineRestarts);
  EXPECT_EQ(cfg.optim.restart_period, 10000);
  EXPECT_EQ(cfg.optim.restart_mult, 1.0);
  EXPECT_EQ(cfg.optim.min_lr, 1e-8);
  EXPECT_EQ(cfg.optim.warmup_steps, 0);
  EXPECT_EQ(cfg.train.steps, 200000);
  expect_schedule(cfg, {2.0000000000000002e-05, 1.9999999506766526e-05, 1.9999998027066148e-05, 1.0005e-05,
                        1.0000493233475472e-08, 2.0000000000000002e-05, 1.9999999506766526e-05, 1.0005e-05, 1.0005e-05,
                        1.0000493233475472e-08, 2.0000000000000002e-05, 2.0000000000000002e-05,
                        1.0000493233475472e-08});
}

TEST(ScheduleGolden, PeriodMultiplierTwoMatchesReferenceScheduler) {
  const auto cfg =
      config::load_config(std::string(GTGM_SOURCE_ROOT) + "/configs/pretrain/ct.yaml", {"optim.restart_mult=2"});
  expect_schedule(cfg, {2.0000000000000002e-05, 1.9999999506766526e-05, 1.9999998027066148e-05, 1.0005e-05,
                        1.0000493233475472e-08, 2.0000000000000002e-05, 1.9999999876691632e-05, 1.7072532277959544e-05,
                        2.9374677220404579e-06, 1.0000123308370255e-08, 2.0000000000000002e-05, 2.0000000000000002e-05,
                        1.555808765500777e-05});
}

}  // namespace
}  // namespace gtgm::train
