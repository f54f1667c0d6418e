#pragma once
/// Portable random draws for samplers and augmentation parameters. std's distributions differ
/// between standard libraries; these depend only on the 64-bit engine output, so a seed gives the
/// same crops and parameters with libstdc++ and libc++.
#include <cstdint>
#include <initializer_list>
#include <random>

#include "gtgm/core/seed.h"

namespace gtgm::data {

/// One random stream (std::mt19937_64 seeded through core::derive_seed).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  Rng(uint64_t seed, std::initializer_list<uint64_t> ids) : engine_(core::derive_seed(seed, ids)) {}

  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi] (inclusive); lo when hi <= lo.
  int64_t randint(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const auto span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(engine_() % span);
  }
  /// True with probability p.
  bool bernoulli(double p) { return uniform() < p; }
  /// Raw 64 bits (e.g. a seed for a tensor generator).
  uint64_t bits() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace gtgm::data
