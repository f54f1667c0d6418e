#include "gtgm/data/py_random.h"

#include <algorithm>

#include "gtgm/core/error.h"

namespace gtgm::data {

namespace {

constexpr int kMtN = 624;
constexpr int kMtM = 397;

}  // namespace

PyRandom::PyRandom(uint64_t seed) {
  // CPython random_seed(): the absolute value's 32-bit words, least significant first (one word
  // for 0), fed to MT19937's init_by_array.
  std::vector<uint32_t> key;
  for (uint64_t s = seed; s != 0; s >>= 32) key.push_back(static_cast<uint32_t>(s & 0xFFFFFFFFu));
  if (key.empty()) key.push_back(0);
  // init_genrand(19650218)
  mt_[0] = 19650218u;
  for (int i = 1; i < kMtN; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  // init_by_array
  int i = 1;
  size_t j = 0;
  for (int k = std::max<int>(kMtN, static_cast<int>(key.size())); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kMtN) {
      mt_[0] = mt_[kMtN - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (int k = kMtN - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kMtN) {
      mt_[0] = mt_[kMtN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000u;
  index_ = kMtN;
}

uint32_t PyRandom::next_u32() {
  if (index_ >= kMtN) {
    for (int k = 0; k < kMtN; ++k) {
      const uint32_t y = (mt_[k] & 0x80000000u) | (mt_[(k + 1) % kMtN] & 0x7fffffffu);
      mt_[k] = mt_[(k + kMtM) % kMtN] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
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

}  // namespace gtgm::data
