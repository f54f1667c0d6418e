// Splits against Python's random.Random (scripts/reference/split_reference.py ->
// tests/data/split/splits.json): same ids, same seed -> the same partition on every platform.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "gtgm/core/atomic_file.h"
#include "gtgm/data/split.h"
#include "test_util.h"

namespace {

using nlohmann::json;

json golden() {
  return json::parse(gtgm::core::read_text_file(std::string(GTGM_TEST_DATA_DIR) + "/split/splits.json"));
}

std::vector<std::string> ids(int n) {
  std::vector<std::string> out;
  // Given in reverse: the split sorts ids first, so input order must not matter.
  for (int i = n - 1; i >= 0; --i) out.push_back(fmt::format("case_{:03d}", i));
  return out;
}

TEST(Split, MersenneTwisterMatchesPython) {
  const auto g = golden();
  gtgm::data::PyRandom r42(42);
  for (const auto& v : g["raw_u32_seed42"]) EXPECT_EQ(r42.next_u32(), v.get<uint32_t>());
  gtgm::data::PyRandom big((uint64_t(1) << 40) + 12345);  // a two-word seed key
  for (const auto& v : g["raw_u32_seed_big"]) EXPECT_EQ(big.next_u32(), v.get<uint32_t>());
}

TEST(Split, TrainTestKfoldAndFractionsMatchPython) {
  for (const auto& c : golden()["cases"]) {
    const int n = c["n"].get<int>();
    const auto seed = c["seed"].get<uint64_t>();
    const auto s = gtgm::data::train_test_split(ids(n), 0.8, seed);
    EXPECT_EQ(s.train, c["train"].get<std::vector<std::string>>()) << "n=" << n << " seed=" << seed;
    EXPECT_EQ(s.test, c["test"].get<std::vector<std::string>>()) << "n=" << n;
    EXPECT_EQ(gtgm::data::label_fraction_subset(s.train, 0.01), c["frac_0.01"].get<std::vector<std::string>>());
    EXPECT_EQ(gtgm::data::label_fraction_subset(s.train, 0.1), c["frac_0.1"].get<std::vector<std::string>>());
    if (c.contains("kfold5_fold2_test")) {
      const auto k = gtgm::data::kfold_split(ids(n), 5, 2, seed);
      EXPECT_EQ(k.test, c["kfold5_fold2_test"].get<std::vector<std::string>>()) << "n=" << n;
      EXPECT_EQ(k.train, c["kfold5_fold2_train"].get<std::vector<std::string>>()) << "n=" << n;
    }
  }
}

TEST(Split, PaperProtocolSizes) {
  // 80/20 with at least one case on each side.
  for (const auto& [n, train] : std::vector<std::pair<int, size_t>>{{2, 1}, {5, 4}, {10, 8}, {41, 32}, {131, 104}}) {
    const auto s = gtgm::data::train_test_split(ids(n), 0.8, 42);
    EXPECT_EQ(s.train.size(), train) << n;
    EXPECT_EQ(s.train.size() + s.test.size(), static_cast<size_t>(n));
  }
  EXPECT_EQ(gtgm::data::train_test_split(ids(3), 1.0, 42).test.size(), 0u);
  EXPECT_THROW_MSG(gtgm::data::train_test_split(ids(1), 0.8, 42), "1 case cannot be split");
}

TEST(Split, KfoldPartitionsEveryCaseOnce) {
  const auto all = ids(23);
  std::multiset<std::string> tested;
  for (int f = 0; f < 5; ++f) {
    const auto s = gtgm::data::kfold_split(all, 5, f, 7);
    EXPECT_EQ(s.test.size(), f < 3 ? 5u : 4u);  // 23 = 5 + 5 + 5 + 4 + 4
    EXPECT_EQ(s.train.size() + s.test.size(), 23u);
    tested.insert(s.test.begin(), s.test.end());
  }
  EXPECT_EQ(tested, std::multiset<std::string>(all.begin(), all.end()));
  EXPECT_THROW_MSG(gtgm::data::kfold_split(all, 5, 5, 7), "fold 5 (expected 0..4)");
  EXPECT_THROW_MSG(gtgm::data::kfold_split(ids(3), 5, 0, 7), "5 folds for 3 cases");
}

TEST(Split, LabelFractionsAreNestedWithAtLeastOneCase) {
  const auto s = gtgm::data::train_test_split(ids(40), 0.8, 42);
  const auto f1 = gtgm::data::label_fraction_subset(s.train, 0.01);
  const auto f10 = gtgm::data::label_fraction_subset(s.train, 0.1);
  const auto f100 = gtgm::data::label_fraction_subset(s.train, 1.0);
  EXPECT_EQ(f1.size(), 1u);
  EXPECT_EQ(f10.size(), 3u);  // floor(3.2 + 0.5)
  EXPECT_EQ(f100, s.train);
  EXPECT_TRUE(std::equal(f1.begin(), f1.end(), f10.begin()));
  EXPECT_TRUE(std::equal(f10.begin(), f10.end(), f100.begin()));
}

TEST(Split, DuplicateIdsAreRefused) {
  EXPECT_THROW_MSG(gtgm::data::train_test_split({"a", "b", "a"}, 0.8, 42), "case id 'a' appears twice");
}

TEST(Split, FromConfig) {
  gtgm::config::DataConfig cfg;
  EXPECT_EQ(gtgm::data::split_from_config(ids(10), cfg).test.size(), 2u);
  cfg.fold = 1;
  cfg.num_folds = 5;
  EXPECT_EQ(gtgm::data::split_from_config(ids(10), cfg).test, gtgm::data::kfold_split(ids(10), 5, 1, 42).test);
}

}  // namespace
