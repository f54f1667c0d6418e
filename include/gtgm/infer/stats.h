#pragma once
/// Small statistics for comparing runs over seeds (`gtgm eval` with `seeds:`): mean, sample
/// standard deviation, paired differences, and a percentile bootstrap confidence interval of a
/// mean with its own documented generator, so the interval is reproducible bit for bit and can be
/// checked against a Python port (scripts/reference/bootstrap_ci_reference.py).
///
/// Bootstrap (bootstrap_mean_ci): B resamples of the n values with replacement; resample b draws
/// its n indices as splitmix64() % n from one splitmix64 stream started at `seed`, in order
/// (resample 0's n indices, then resample 1's, ...); the CI is the (1-level)/2 and (1+level)/2
/// percentiles of the B resample means, interpolated linearly between order statistics as
/// numpy.percentile's default ("linear": position q * (B - 1) of the sorted means).
#include <cstdint>
#include <string>
#include <vector>

namespace gtgm::infer {

/// Defaults of the paired comparison in `gtgm eval` (docs/eval.md).
constexpr int64_t kBootstrapResamples = 10000;
constexpr uint64_t kBootstrapSeed = 20240917;
constexpr double kBootstrapLevel = 0.95;

/// One step of splitmix64 (Steele, Lea, Flood 2014): advances `state` and returns the next value.
uint64_t splitmix64_next(uint64_t& state);

/// Arithmetic mean; throws for an empty list.
double mean(const std::vector<double>& x);
/// Sample standard deviation (n - 1 in the denominator, numpy's ddof=1); NaN when n < 2.
double sample_sd(const std::vector<double>& x);
/// a[i] - b[i]; throws when the sizes differ.
std::vector<double> paired_differences(const std::vector<double>& a, const std::vector<double>& b);

/// Percentile `q` in [0, 1] of `x` with numpy's default linear interpolation; throws for an empty list.
double percentile_linear(std::vector<double> x, double q);

struct BootstrapCI {
  double lo = 0;
  double hi = 0;
  double level = kBootstrapLevel;
  int64_t resamples = kBootstrapResamples;
  uint64_t seed = kBootstrapSeed;
};

/// Percentile bootstrap CI of the mean of `x` (see the file comment). Throws for n < 2 (one value
/// has no spread to resample), resamples < 1 or a level outside (0, 1).
BootstrapCI bootstrap_mean_ci(const std::vector<double>& x, double level = kBootstrapLevel,
                              int64_t resamples = kBootstrapResamples, uint64_t seed = kBootstrapSeed);

/// a - b paired element by element (e.g. pretrained - random, by seed).
struct PairedComparison {
  int64_t n = 0;
  double mean_diff = 0;
  double sd_diff = 0;  ///< NaN for n = 1
  /// k of n pairs where a is better than b (a > b, or a < b when lower is better); ties count for neither.
  int64_t better = 0;
  bool has_ci = false;  ///< false for n = 1 (no interval; the report says "n/a")
  BootstrapCI ci;
  /// has_ci and the CI excludes 0.
  bool significant = false;
};

/// Compares paired values (a[i] and b[i] from the same seed). Throws when the sizes differ or are 0.
PairedComparison compare_paired(const std::vector<double>& a, const std::vector<double>& b, bool lower_is_better,
                                double level = kBootstrapLevel, int64_t resamples = kBootstrapResamples,
                                uint64_t seed = kBootstrapSeed);

}  // namespace gtgm::infer
