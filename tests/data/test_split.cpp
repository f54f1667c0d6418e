// Splits against the reference code's own split (finetune/task1.py:179-185, ported as it is in
// scripts/reference/split_reference.py, printed by /usr/bin/python3 into
// tests/data/split/splits.json) and against gtgm's other options (sorted order, rounded sizes,
// k-fold) written out in the same script.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "gtgm/core/atomic_file.h"
#include "gtgm/data/manifest.h"
#include "gtgm/data/split.h"
#include "test_util.h"

namespace {

using gtgm::config::LabelFractionOf;
using gtgm::config::SplitOrder;
using gtgm::config::SplitSizes;
using nlohmann::json;

json golden() {
  return json::parse(gtgm::core::read_text_file(std::string(GTGM_TEST_DATA_DIR) + "/split/splits.json"));
}

std::vector<std::string> strings(const json& j) { return j.get<std::vector<std::string>>(); }

std::vector<std::string> ids(int n) {
  std::vector<std::string> out;
  // Given in reverse: with split_order sorted, input order must not matter.
  for (int i = n - 1; i >= 0; --i) out.push_back(fmt::format("case_{:03d}", i));
  return out;
}

gtgm::data::SplitOptions sorted_rounded(uint64_t seed) {
  gtgm::data::SplitOptions o;
  o.seed = seed;
  o.order = SplitOrder::Sorted;
  o.sizes = SplitSizes::Rounded;
  return o;
}

// The paper default: dataset.json's listing order (not sorted), the reference's int() sizes.
TEST(Split, ReferenceSplitOfAnUnsortedDatasetJson) {
  const auto ref = golden()["reference_msd_unsorted"];
  gtgm::data::ManifestOptions mo;
  mo.require_files = false;
  const auto m = gtgm::data::load_msd(std::string(GTGM_TEST_DATA_DIR) + "/split/msd_unsorted", mo);
  ASSERT_EQ(m.listed.size(), 131u);
  EXPECT_NE(m.listed_ids(), m.ids());  // listed out of sorted order
  gtgm::config::DataConfig cfg;        // defaults = the paper protocol
  EXPECT_EQ(cfg.split_order, SplitOrder::File);
  EXPECT_EQ(cfg.split_sizes, SplitSizes::Reference);
  EXPECT_EQ(cfg.label_fraction_of, LabelFractionOf::Train);
  const auto s = gtgm::data::split_from_config(m.listed_ids(), cfg);
  EXPECT_EQ(s.train, strings(ref["train_rate_0.8"]["train"]));  // 104 = int(131 * 0.8)
  EXPECT_EQ(s.test, strings(ref["train_rate_0.8"]["test"]));    // 27
  const auto o = gtgm::data::split_options(cfg);
  // "100% / 10% / 1%" of the train part = train_rate 0.8 / 0.08 / 0.008.
  EXPECT_EQ(gtgm::data::label_fraction_subset(s, 1.0, o), strings(ref["train_rate_0.8"]["train"]));
  EXPECT_EQ(gtgm::data::label_fraction_subset(s, 0.1, o), strings(ref["train_rate_0.08"]["train"]));  // 10
  EXPECT_EQ(gtgm::data::label_fraction_subset(s, 0.01, o), strings(ref["train_rate_0.008"]["train"]));  // 1
  auto all = o;
  all.label_fraction_of = LabelFractionOf::All;  // "10%" = 10% of all cases: train_rate 0.1
  EXPECT_EQ(gtgm::data::label_fraction_subset(s, 0.1, all), strings(ref["train_rate_0.1"]["train"]));  // 13
  EXPECT_EQ(gtgm::data::label_fraction_subset(s, 0.01, all), strings(ref["train_rate_0.01"]["train"]));
  EXPECT_EQ(gtgm::data::label_fraction_subset(s, 1.0, all), s.train);  // capped at the train part
  // The sorted order gives another split of the same cases.
  cfg.split_order = SplitOrder::Sorted;
  EXPECT_NE(gtgm::data::split_from_config(m.listed_ids(), cfg).test, s.test);
}

TEST(Split, ReferenceGivesNoCaseForOnePercentOfASmallTaskGtgmOne) {
  const auto ref = golden()["reference_msd_unsorted"];
  const auto listed = strings(ref["spleen41_listed"]);
  const auto s = gtgm::data::train_test_split(listed);
  EXPECT_EQ(s.train, strings(ref["spleen41_train_rate_0.8"]["train"]));  // 32
  EXPECT_EQ(s.test, strings(ref["spleen41_train_rate_0.8"]["test"]));    // 9
  // int(41 * 0.008) = 0: the reference code would train on no case; gtgm takes the first one.
  EXPECT_TRUE(ref["spleen41_train_rate_0.008"]["train"].empty());
  EXPECT_EQ(gtgm::data::label_fraction_subset(s, 0.01), std::vector<std::string>{s.train.front()});
}

TEST(Split, SortedRoundedKfoldAndFractionsMatchPython) {
  for (const auto& c : golden()["gtgm_cases"]) {
    const int n = c["n"].get<int>();
    const auto seed = c["seed"].get<uint64_t>();
    const auto o = sorted_rounded(seed);
    const auto s = gtgm::data::train_test_split(ids(n), o);
    EXPECT_EQ(s.train, strings(c["sorted_rounded"]["train"])) << "n=" << n << " seed=" << seed;
    EXPECT_EQ(s.test, strings(c["sorted_rounded"]["test"])) << "n=" << n;
    EXPECT_EQ(gtgm::data::label_fraction_subset(s, 0.01, o), strings(c["frac_0.01"]));
    EXPECT_EQ(gtgm::data::label_fraction_subset(s, 0.1, o), strings(c["frac_0.1"]));
    auto all = o;
    all.label_fraction_of = LabelFractionOf::All;
    EXPECT_EQ(gtgm::data::label_fraction_subset(s, 0.1, all), strings(c["frac_0.1_all"])) << "n=" << n;
    auto ref_sizes = o;
    ref_sizes.sizes = SplitSizes::Reference;
    const auto r = gtgm::data::train_test_split(ids(n), ref_sizes);
    EXPECT_EQ(r.train, strings(c["sorted_reference"]["train"])) << "n=" << n;
    EXPECT_EQ(r.test, strings(c["sorted_reference"]["test"])) << "n=" << n;
    if (c.contains("kfold5_fold2_test")) {
      const auto k = gtgm::data::kfold_split(ids(n), 5, 2, o);
      EXPECT_EQ(k.test, strings(c["kfold5_fold2_test"])) << "n=" << n;
      EXPECT_EQ(k.train, strings(c["kfold5_fold2_train"])) << "n=" << n;
    }
  }
}

TEST(Split, PaperProtocolSizes) {
  // reference: train = int(0.8 n) (at least one case on each side); rounded: test = ceil(0.2 n).
  for (const auto& [n, ref_train, rounded_train] : std::vector<std::tuple<int, size_t, size_t>>{
           {2, 1, 1}, {3, 2, 2}, {5, 4, 4}, {7, 5, 5}, {9, 7, 7}, {10, 8, 8}, {41, 32, 32}, {131, 104, 104}}) {
    const auto s = gtgm::data::train_test_split(ids(n));
    EXPECT_EQ(s.train.size(), ref_train) << n;
    EXPECT_EQ(s.train.size() + s.test.size(), static_cast<size_t>(n));
    EXPECT_EQ(gtgm::data::train_test_split(ids(n), sorted_rounded(42)).train.size(), rounded_train) << n;
  }
  // The train sizes agree (n - ceil(n (1 - f)) = floor(n f)); the labelled counts need not:
  // Heart's 20 cases at 10%: reference int(20 * 0.08) = 1, rounded floor(0.1 * 16 + 0.5) = 2.
  gtgm::data::SplitOptions o;
  EXPECT_EQ(gtgm::data::label_fraction_subset(gtgm::data::train_test_split(ids(20), o), 0.1, o).size(), 1u);
  o.sizes = SplitSizes::Rounded;
  EXPECT_EQ(gtgm::data::label_fraction_subset(gtgm::data::train_test_split(ids(20), o), 0.1, o).size(), 2u);
  o.train_fraction = 1.0;
  EXPECT_EQ(gtgm::data::train_test_split(ids(3), o).test.size(), 0u);
  EXPECT_THROW_MSG(gtgm::data::train_test_split(ids(1)), "1 case cannot be split");
}

TEST(Split, FileOrderShufflesTheIdsAsGiven) {
  auto reversed = ids(12);
  auto ascending = reversed;
  std::reverse(ascending.begin(), ascending.end());
  EXPECT_NE(gtgm::data::train_test_split(reversed).train, gtgm::data::train_test_split(ascending).train);
  gtgm::data::SplitOptions sorted;
  sorted.order = SplitOrder::Sorted;
  EXPECT_EQ(gtgm::data::train_test_split(reversed, sorted).train,
            gtgm::data::train_test_split(ascending, sorted).train);
}

TEST(Split, KfoldPartitionsEveryCaseOnce) {
  const auto all = ids(23);
  std::multiset<std::string> tested;
  for (int f = 0; f < 5; ++f) {
    const auto s = gtgm::data::kfold_split(all, 5, f, sorted_rounded(7));
    EXPECT_EQ(s.test.size(), f < 3 ? 5u : 4u);  // 23 = 5 + 5 + 5 + 4 + 4
    EXPECT_EQ(s.train.size() + s.test.size(), 23u);
    tested.insert(s.test.begin(), s.test.end());
  }
  EXPECT_EQ(tested, std::multiset<std::string>(all.begin(), all.end()));
  EXPECT_THROW_MSG(gtgm::data::kfold_split(all, 5, 5), "fold 5 (expected 0..4)");
  EXPECT_THROW_MSG(gtgm::data::kfold_split(ids(3), 5, 0), "5 folds for 3 cases");
  // k-fold label fractions are of the fold's train part (no train_rate): int(18 * 0.5) = 9.
  EXPECT_EQ(gtgm::data::label_fraction_subset(gtgm::data::kfold_split(all, 5, 0), 0.5).size(), 9u);
}

TEST(Split, LabelFractionsAreNestedWithAtLeastOneCase) {
  for (const auto sizes : {SplitSizes::Reference, SplitSizes::Rounded}) {
    gtgm::data::SplitOptions o;
    o.sizes = sizes;
    const auto s = gtgm::data::train_test_split(ids(40), o);
    const auto f1 = gtgm::data::label_fraction_subset(s, 0.01, o);
    const auto f10 = gtgm::data::label_fraction_subset(s, 0.1, o);
    const auto f100 = gtgm::data::label_fraction_subset(s, 1.0, o);
    EXPECT_EQ(f1.size(), 1u);
    EXPECT_EQ(f10.size(), 3u);  // reference: int(40 * 0.08) = 3; rounded: floor(3.2 + 0.5)
    EXPECT_EQ(f100, s.train);
    EXPECT_TRUE(std::equal(f1.begin(), f1.end(), f10.begin()));
    EXPECT_TRUE(std::equal(f10.begin(), f10.end(), f100.begin()));
  }
  EXPECT_THROW_MSG(gtgm::data::label_fraction_subset(gtgm::data::train_test_split(ids(4)), 0.0),
                   "data.label_fraction 0 (expected in (0, 1])");
}

TEST(Split, DuplicateIdsAreRefused) {
  EXPECT_THROW_MSG(gtgm::data::train_test_split({"a", "b", "a"}), "case id 'a' appears twice");
  EXPECT_THROW_MSG(gtgm::data::kfold_split({"a", "b", "a"}, 2, 0, sorted_rounded(1)), "case id 'a' appears twice");
}

TEST(Split, FromConfig) {
  gtgm::config::DataConfig cfg;
  EXPECT_EQ(gtgm::data::split_from_config(ids(10), cfg).test.size(), 2u);
  cfg.fold = 1;
  cfg.num_folds = 5;
  EXPECT_EQ(gtgm::data::split_from_config(ids(10), cfg).test,
            gtgm::data::kfold_split(ids(10), 5, 1, gtgm::data::split_options(cfg)).test);
}

}  // namespace
