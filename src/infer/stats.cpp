#include "gtgm/infer/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "gtgm/core/error.h"

namespace gtgm::infer {

uint64_t splitmix64_next(uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double mean(const std::vector<double>& x) {
  GTGM_CHECK(!x.empty(), "mean of an empty list");
  double s = 0;
  for (double v : x) s += v;
  return s / static_cast<double>(x.size());
}

double sample_sd(const std::vector<double>& x) {
  if (x.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const double m = mean(x);
  double s = 0;
  for (double v : x) s += (v - m) * (v - m);
  return std::sqrt(s / static_cast<double>(x.size() - 1));
}

std::vector<double> paired_differences(const std::vector<double>& a, const std::vector<double>& b) {
  GTGM_CHECK(a.size() == b.size(), "paired differences: {} values against {} (expected one per pair)", a.size(),
             b.size());
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

double percentile_linear(std::vector<double> x, double q) {
  GTGM_CHECK(!x.empty(), "percentile of an empty list");
  GTGM_CHECK(q >= 0 && q <= 1, "percentile: q = {} (expected a fraction in [0, 1])", q);
  std::sort(x.begin(), x.end());
  const double h = q * static_cast<double>(x.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= x.size()) return x.back();
  return x[lo] + (h - static_cast<double>(lo)) * (x[lo + 1] - x[lo]);
}

BootstrapCI bootstrap_mean_ci(const std::vector<double>& x, double level, int64_t resamples, uint64_t seed) {
  GTGM_CHECK(x.size() >= 2, "bootstrap CI: {} value(s) (expected at least 2; one seed has no spread)", x.size());
  GTGM_CHECK(resamples >= 1, "bootstrap CI: {} resamples (expected >= 1)", resamples);
  GTGM_CHECK(level > 0 && level < 1, "bootstrap CI: level {} (expected a fraction in (0, 1), e.g. 0.95)", level);
  const uint64_t n = x.size();
  std::vector<double> means(static_cast<size_t>(resamples));
  uint64_t state = seed;
  for (auto& m : means) {
    double s = 0;
    for (uint64_t i = 0; i < n; ++i) s += x[splitmix64_next(state) % n];
    m = s / static_cast<double>(n);
  }
  BootstrapCI ci;
  ci.level = level;
  ci.resamples = resamples;
  ci.seed = seed;
  std::sort(means.begin(), means.end());
  ci.lo = percentile_linear(means, (1 - level) / 2);
  ci.hi = percentile_linear(std::move(means), (1 + level) / 2);
  return ci;
}

PairedComparison compare_paired(const std::vector<double>& a, const std::vector<double>& b, bool lower_is_better,
                                double level, int64_t resamples, uint64_t seed) {
  const auto d = paired_differences(a, b);
  GTGM_CHECK(!d.empty(), "paired comparison of no pairs");
  PairedComparison c;
  c.n = static_cast<int64_t>(d.size());
  c.mean_diff = mean(d);
  c.sd_diff = sample_sd(d);
  for (double v : d) c.better += lower_is_better ? (v < 0) : (v > 0);
  if (d.size() >= 2) {
    c.has_ci = true;
    c.ci = bootstrap_mean_ci(d, level, resamples, seed);
    c.significant = c.ci.lo > 0 || c.ci.hi < 0;
  }
  return c;
}

}  // namespace gtgm::infer
