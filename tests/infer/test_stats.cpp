// Statistics of `gtgm eval` over seeds: mean/sd against numpy, the bootstrap CI against an exact
// Python port of the documented algorithm, and exact properties (equal values, one pair, bad input).
// Golden values: printed by scripts/reference/bootstrap_ci_reference.py (numpy + the port).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "gtgm/core/error.h"
#include "gtgm/infer/stats.h"

using namespace gtgm;

namespace {

const std::vector<double> kA = {0.71, 0.64, 0.80, 0.58, 0.69};
const std::vector<double> kB = {0.66, 0.65, 0.70, 0.52, 0.61};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Stats, Splitmix64MatchesThePublishedSequence) {
  uint64_t s = 0;
  EXPECT_EQ(infer::splitmix64_next(s), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(infer::splitmix64_next(s), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(infer::splitmix64_next(s), 0x06C45D188009454FULL);
}

TEST(Stats, MeanSdAndPairedDifferencesMatchNumpy) {
  EXPECT_NEAR(infer::mean(kA), 0.68400000000000005, 1e-15);
  EXPECT_NEAR(infer::sample_sd(kA), 0.082036577207974762, 1e-15);
  const auto d = infer::paired_differences(kA, kB);
  const std::vector<double> want = {0.049999999999999933, -0.010000000000000009, 0.10000000000000009,
                                    0.059999999999999942, 0.07999999999999996};
  ASSERT_EQ(d.size(), want.size());
  for (size_t i = 0; i < d.size(); ++i) EXPECT_DOUBLE_EQ(d[i], want[i]) << i;
  EXPECT_NEAR(infer::mean(d), 0.05599999999999998, 1e-15);
  EXPECT_NEAR(infer::sample_sd(d), 0.041593268686170866, 1e-15);
  EXPECT_TRUE(std::isnan(infer::sample_sd({3.0})));
  EXPECT_NE(error_of([] { infer::paired_differences({1, 2}, {1}); }).find("2 values against 1"), std::string::npos);
  EXPECT_NE(error_of([] { infer::mean({}); }).find("empty"), std::string::npos);
}

TEST(Stats, PercentileInterpolatesLikeNumpy) {
  EXPECT_NEAR(infer::percentile_linear({4, 1, 3, 2}, 0.025), 1.075, 1e-15);
  EXPECT_NEAR(infer::percentile_linear({4, 1, 3, 2}, 0.975), 3.9249999999999998, 1e-15);
  EXPECT_EQ(infer::percentile_linear({4, 1, 3, 2}, 0.0), 1.0);
  EXPECT_EQ(infer::percentile_linear({4, 1, 3, 2}, 1.0), 4.0);
}

TEST(Stats, BootstrapCiEqualsThePythonPortOfTheSameGenerator) {
  struct Case {
    std::vector<double> x;
    int64_t resamples;
    uint64_t seed;
    double lo, hi;
  };
  const std::vector<Case> cases = {
      {infer::paired_differences(kA, kB), 10000, 20240917, 0.019999999999999973, 0.084000000000000005},
      {{1.0, 2.0, 3.0, 4.0}, 1000, 7, 1.5, 3.5},
      {{-3.0, 1.0, 2.5}, 10000, 20240917, -3, 2.5},
  };
  for (const auto& c : cases) {
    const auto ci = infer::bootstrap_mean_ci(c.x, 0.95, c.resamples, c.seed);
    EXPECT_NEAR(ci.lo, c.lo, 1e-12) << c.x.size();
    EXPECT_NEAR(ci.hi, c.hi, 1e-12) << c.x.size();
    EXPECT_EQ(ci.resamples, c.resamples);
    EXPECT_EQ(ci.seed, c.seed);
  }
  // scipy.stats.bootstrap(method='percentile', B=10000) with numpy's generator gave [0.022, 0.084]
  // for the first case: the same interval up to resampling noise.
}

TEST(Stats, BootstrapCiExactProperties) {
  const auto equal = infer::bootstrap_mean_ci({0.3, 0.3, 0.3, 0.3});
  EXPECT_DOUBLE_EQ(equal.lo, 0.3);
  EXPECT_DOUBLE_EQ(equal.hi, 0.3);
  const auto d = infer::paired_differences(kA, kB);
  const auto ci = infer::bootstrap_mean_ci(d);
  EXPECT_LE(ci.lo, infer::mean(d));
  EXPECT_GE(ci.hi, infer::mean(d));
  EXPECT_GE(ci.lo, -0.01);  // within [min, max] of the values
  EXPECT_LE(ci.hi, 0.10000000000000009);
  const auto again = infer::bootstrap_mean_ci(d);
  EXPECT_EQ(again.lo, ci.lo);  // fixed seed: the same interval every time
  EXPECT_EQ(again.hi, ci.hi);
  EXPECT_NE(error_of([] { infer::bootstrap_mean_ci({0.5}); }).find("1 value(s) (expected at least 2"),
            std::string::npos);
  EXPECT_NE(error_of([] { infer::bootstrap_mean_ci({0.5, 1}, 1.5); }).find("level 1.5"), std::string::npos);
  EXPECT_NE(error_of([] { infer::bootstrap_mean_ci({0.5, 1}, 0.95, 0); }).find("0 resamples"), std::string::npos);
}

TEST(Stats, ComparePairedCountsSignsAndFlagsSignificance) {
  const auto c = infer::compare_paired(kA, kB, false);
  EXPECT_EQ(c.n, 5);
  EXPECT_EQ(c.better, 4);  // the second pair is worse
  EXPECT_NEAR(c.mean_diff, 0.05599999999999998, 1e-15);
  EXPECT_TRUE(c.has_ci);
  EXPECT_TRUE(c.significant);  // [0.02, 0.084] excludes 0
  const auto lower = infer::compare_paired(kA, kB, true);
  EXPECT_EQ(lower.better, 1);  // lower is better: only the second pair
  const auto mixed = infer::compare_paired({-3.0, 1.0, 2.5}, {0, 0, 0}, false);
  EXPECT_EQ(mixed.better, 2);
  EXPECT_FALSE(mixed.significant);  // [-3, 2.5] holds 0
  const auto ties = infer::compare_paired({1, 2}, {1, 2}, false);
  EXPECT_EQ(ties.better, 0);
  EXPECT_FALSE(ties.significant);  // zero-width interval at 0
  const auto one = infer::compare_paired({0.9}, {0.1}, false);
  EXPECT_EQ(one.n, 1);
  EXPECT_EQ(one.better, 1);
  EXPECT_FALSE(one.has_ci);
  EXPECT_FALSE(one.significant);
  EXPECT_NE(error_of([] { infer::compare_paired({}, {}, false); }).find("no pairs"), std::string::npos);
}
