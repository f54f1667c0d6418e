#pragma once
/// Deterministic dataset splits that are identical on every platform and reproducible in a few
/// lines of Python (scripts/reference/split_reference.py):
///
///   ids = sorted(ids); random.Random(seed).shuffle(ids)
///   n_test = ceil(n * (1 - train_fraction)) clamped so both parts are non-empty (n >= 2)
///   train, test = ids[:n - n_test], ids[n - n_test:]
///   k-fold: the shuffled ids cut into k contiguous folds (the first n % k one longer), fold f
///           is the test part, the other folds in shuffled order the train part
///   label fraction f: train[:max(1, floor(f * len(train) + 0.5))] (nested: 1% in 10% in 100%)
///
/// PyRandom is CPython's `random.Random(int)` (MT19937 seeded by init_by_array with the seed's
/// 32-bit words; shuffle via _randbelow on getrandbits), written out here so no standard-library
/// distribution (whose algorithms are implementation-defined) is involved.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "gtgm/config/data_config.h"

namespace gtgm::data {

/// CPython's random.Random seeded with a non-negative integer; only what shuffling needs.
class PyRandom {
 public:
  explicit PyRandom(uint64_t seed);
  /// The next raw 32-bit output of MT19937 (genrand_uint32).
  uint32_t next_u32();
  /// random.getrandbits(k) for 1 <= k <= 32.
  uint32_t getrandbits(int k);
  /// random._randbelow(n) for 1 <= n < 2^32: uniform in [0, n).
  uint32_t randbelow(uint32_t n);
  /// random.shuffle(x).
  template <class T>
  void shuffle(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;) {
      const size_t j = randbelow(static_cast<uint32_t>(i + 1));
      std::swap(x[i], x[j]);
    }
  }

 private:
  std::array<uint32_t, 624> mt_{};
  int index_ = 624;
};

/// A train/test partition of case ids.
struct Split {
  std::vector<std::string> train;  ///< in shuffled order (label fractions take prefixes)
  std::vector<std::string> test;   ///< in shuffled order
};

/// The seeded shuffle split (paper protocol: 80/20, seed 42). Needs >= 2 ids when
/// train_fraction < 1; train_fraction == 1 puts every case in train.
Split train_test_split(std::vector<std::string> ids, double train_fraction = 0.8, uint64_t seed = 42);

/// Fold `fold` of a seeded k-fold split (0 <= fold < num_folds <= number of ids).
Split kfold_split(std::vector<std::string> ids, int num_folds, int fold, uint64_t seed = 42);

/// The first max(1, floor(fraction * n + 0.5)) train ids: nested across fractions.
std::vector<std::string> label_fraction_subset(const std::vector<std::string>& train, double fraction);

/// The split the config asks for: data.fold >= 0 -> kfold_split(data.num_folds, data.fold),
/// else train_test_split(data.train_fraction); both seeded with data.split_seed.
Split split_from_config(const std::vector<std::string>& ids, const config::DataConfig& cfg);

}  // namespace gtgm::data
