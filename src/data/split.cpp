#include "gtgm/data/split.h"

#include <algorithm>
#include <cmath>

#include "gtgm/core/error.h"

namespace gtgm::data {

namespace {

constexpr int kN = 624;
constexpr int kM = 397;

}  // namespace

PyRandom::PyRandom(uint64_t seed) {
  // CPython random_seed(): the absolute value's 32-bit words, least significant first (one word
  // for 0), fed to MT19937's init_by_array.
  std::vector<uint32_t> key;
  for (uint64_t s = seed; s != 0; s >>= 32) key.push_back(static_cast<uint32_t>(s & 0xFFFFFFFFu));
  if (key.empty()) key.push_back(0);
  // init_genrand(19650218)
  mt_[0] = 19650218u;
  for (int i = 1; i < kN; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  // init_by_array
  int i = 1;
  size_t j = 0;
  for (int k = std::max<int>(kN, static_cast<int>(key.size())); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000u;
  index_ = kN;
}

uint32_t PyRandom::next_u32() {
  if (index_ >= kN) {
    for (int k = 0; k < kN; ++k) {
      const uint32_t y = (mt_[k] & 0x80000000u) | (mt_[(k + 1) % kN] & 0x7fffffffu);
      mt_[k] = mt_[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    index_ = 0;
  }
  uint32_t y = mt_[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint32_t PyRandom::getrandbits(int k) {
  GTGM_CHECK(k >= 1 && k <= 32, "PyRandom::getrandbits: k = {} (expected 1..32)", k);
  return next_u32() >> (32 - k);
}

uint32_t PyRandom::randbelow(uint32_t n) {
  GTGM_CHECK(n >= 1, "PyRandom::randbelow: n must be >= 1");
  int k = 0;
  for (uint32_t v = n; v != 0; v >>= 1) ++k;  // n.bit_length()
  uint32_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

namespace {

std::vector<std::string> sorted_unique(std::vector<std::string> ids, const char* what) {
  std::sort(ids.begin(), ids.end());
  const auto dup = std::adjacent_find(ids.begin(), ids.end());
  GTGM_CHECK(dup == ids.end(), "{}: case id '{}' appears twice (expected unique ids)", what, *dup);
  return ids;
}

}  // namespace

Split train_test_split(std::vector<std::string> ids, double train_fraction, uint64_t seed) {
  GTGM_CHECK(train_fraction > 0 && train_fraction <= 1, "train_test_split: train_fraction {} (expected in (0, 1])",
             train_fraction);
  ids = sorted_unique(std::move(ids), "train_test_split");
  const auto n = static_cast<int64_t>(ids.size());
  GTGM_CHECK(n >= 1, "train_test_split: no cases to split");
  PyRandom rng(seed);
  rng.shuffle(ids);
  // The small epsilon keeps e.g. 10 * 0.2 = 2.0000000000000004 from rounding up to 3.
  int64_t n_test = static_cast<int64_t>(std::ceil(static_cast<double>(n) * (1.0 - train_fraction) - 1e-9));
  if (train_fraction < 1.0) {
    GTGM_CHECK(n >= 2,
               "train_test_split: {} case cannot be split into train and test (expected at least 2, or "
               "data.train_fraction: 1)",
               n);
    n_test = std::clamp<int64_t>(n_test, 1, n - 1);
  } else {
    n_test = 0;
  }
  Split s;
  s.train.assign(ids.begin(), ids.end() - n_test);
  s.test.assign(ids.end() - n_test, ids.end());
  return s;
}

Split kfold_split(std::vector<std::string> ids, int num_folds, int fold, uint64_t seed) {
  ids = sorted_unique(std::move(ids), "kfold_split");
  const auto n = static_cast<int>(ids.size());
  GTGM_CHECK(num_folds >= 2 && num_folds <= n, "kfold_split: {} folds for {} cases (expected 2 <= folds <= cases)",
             num_folds, n);
  GTGM_CHECK(fold >= 0 && fold < num_folds, "kfold_split: fold {} (expected 0..{})", fold, num_folds - 1);
  PyRandom rng(seed);
  rng.shuffle(ids);
  int begin = 0;
  for (int f = 0; f < fold; ++f) begin += n / num_folds + (f < n % num_folds ? 1 : 0);
  const int end = begin + n / num_folds + (fold < n % num_folds ? 1 : 0);
  Split s;
  for (int i = 0; i < n; ++i) (i >= begin && i < end ? s.test : s.train).push_back(ids[static_cast<size_t>(i)]);
  return s;
}

std::vector<std::string> label_fraction_subset(const std::vector<std::string>& train, double fraction) {
  GTGM_CHECK(fraction > 0 && fraction <= 1, "label fraction {} (expected in (0, 1])", fraction);
  GTGM_CHECK(!train.empty(), "label fraction {}: the train split is empty", fraction);
  const auto n = static_cast<int64_t>(train.size());
  const int64_t k =
      std::clamp<int64_t>(static_cast<int64_t>(std::floor(fraction * static_cast<double>(n) + 0.5)), 1, n);
  return {train.begin(), train.begin() + k};
}

Split split_from_config(const std::vector<std::string>& ids, const config::DataConfig& cfg) {
  const auto seed = static_cast<uint64_t>(cfg.split_seed);
  if (cfg.fold >= 0) return kfold_split(ids, cfg.num_folds, cfg.fold, seed);
  return train_test_split(ids, cfg.train_fraction, seed);
}

}  // namespace gtgm::data
