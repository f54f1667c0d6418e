// PyRandom against CPython's random (values printed by /usr/bin/python3
// scripts/reference/split_reference.py into tests/data/split/splits.json): raw MT19937 output for
// one- and two-word seeds, getrandbits(k), _randbelow(n) and random.seed(s); random.shuffle(x)
// for list lengths 1, 2, 7 and 100.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <numeric>

#include "gtgm/core/atomic_file.h"
#include "gtgm/data/py_random.h"
#include "test_util.h"

namespace {

using nlohmann::json;

json py_random_golden() {
  return json::parse(gtgm::core::read_text_file(std::string(GTGM_TEST_DATA_DIR) + "/split/splits.json"));
}

TEST(PyRandom, RawOutputMatchesPythonForEverySeed) {
  const auto g = py_random_golden()["raw_u32"];
  ASSERT_EQ(g.size(), 6u);  // 0, 1, 42, 12345, 2^32 + 7 (two words), 2^40 + 12345
  for (const auto& [seed, values] : g.items()) {
    gtgm::data::PyRandom r(std::stoull(seed));
    for (const auto& v : values) EXPECT_EQ(r.next_u32(), v.get<uint32_t>()) << "seed " << seed;
  }
}

TEST(PyRandom, GetrandbitsAndRandbelowMatchPython) {
  const auto g = py_random_golden();
  for (const auto& [k, values] : g["getrandbits_seed42"].items()) {
    gtgm::data::PyRandom r(42);
    for (const auto& v : values) EXPECT_EQ(r.getrandbits(std::stoi(k)), v.get<uint32_t>()) << "k " << k;
  }
  for (const auto& [n, values] : g["randbelow_seed7"].items()) {
    gtgm::data::PyRandom r(7);
    for (const auto& v : values)
      EXPECT_EQ(r.randbelow(static_cast<uint32_t>(std::stoull(n))), v.get<uint32_t>()) << "n " << n;
  }
  gtgm::data::PyRandom r(1);
  EXPECT_THROW_MSG(r.getrandbits(33), "k = 33 (expected 1..32)");
  EXPECT_THROW_MSG(r.randbelow(0), "n must be >= 1");
}

TEST(PyRandom, ShuffleMatchesPythonForLengths1To100) {
  const auto cases = py_random_golden()["shuffle"];
  ASSERT_EQ(cases.size(), 24u);  // 6 seeds x lengths 1, 2, 7, 100
  for (const auto& c : cases) {
    std::vector<int> x(c["n"].get<size_t>());
    std::iota(x.begin(), x.end(), 0);
    gtgm::data::PyRandom r(c["seed"].get<uint64_t>());
    r.shuffle(x);
    EXPECT_EQ(x, c["result"].get<std::vector<int>>()) << "seed " << c["seed"] << " n " << c["n"];
  }
}

}  // namespace
