#pragma once
/// CPython's `random` module, as far as a seeded shuffle needs it, written out so that gtgm's
/// splits equal the reference code's `random.seed(42); random.shuffle(datalist)` bit for bit and
/// no standard-library distribution (whose algorithms are implementation-defined) is involved.
///
/// Lib/random.py + Modules/_randommodule.c (CPython 3.x):
///  - seed(a) for an int a: the 32-bit words of |a|, least significant first (one word for 0),
///    fed to MT19937's init_by_array (init_genrand(19650218) first);
///  - getrandbits(k), 1 <= k <= 32: genrand_uint32() >> (32 - k);
///  - _randbelow(n): k = n.bit_length(); r = getrandbits(k) until r < n;
///  - shuffle(x): for i in reversed(range(1, len(x))): j = _randbelow(i + 1); swap x[i], x[j].
/// tests/data/test_py_random.cpp checks it against /usr/bin/python3
/// (scripts/reference/split_reference.py).
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace gtgm::data {

/// CPython's random.Random seeded with a non-negative integer (random.seed(int)).
class PyRandom {
 public:
  explicit PyRandom(uint64_t seed);
  /// The next raw 32-bit output of MT19937 (genrand_uint32).
  uint32_t next_u32();
  /// random.getrandbits(k) for 1 <= k <= 32.
  uint32_t getrandbits(int k);
  /// random._randbelow(n) for 1 <= n < 2^32: uniform in [0, n).
  uint32_t randbelow(uint32_t n);
  /// random.shuffle(x), in place.
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

}  // namespace gtgm::data
