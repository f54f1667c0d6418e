#include "gtgm/data/split.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "gtgm/core/error.h"

namespace gtgm::data {

namespace {

// The ids in the order the shuffle starts from: as given (File) or sorted; duplicates refused.
std::vector<std::string> split_input_order(std::vector<std::string> ids, config::SplitOrder order, const char* what) {
  std::set<std::string> seen;
  for (const auto& id : ids)
    GTGM_CHECK(seen.insert(id).second, "{}: case id '{}' appears twice (expected unique ids)", what, id);
  if (order == config::SplitOrder::Sorted) std::sort(ids.begin(), ids.end());
  return ids;
}

// Python's int(x) of a non-negative double: truncation toward zero.
int64_t py_int(double x) { return static_cast<int64_t>(x); }

}  // namespace

SplitOptions split_options(const config::DataConfig& cfg) {
  SplitOptions o;
  o.train_fraction = cfg.train_fraction;
  o.seed = static_cast<uint64_t>(cfg.split_seed);
  o.order = cfg.split_order;
  o.sizes = cfg.split_sizes;
  o.label_fraction_of = cfg.label_fraction_of;
  return o;
}

Split train_test_split(std::vector<std::string> ids, const SplitOptions& o) {
  const double f = o.train_fraction;
  GTGM_CHECK(f > 0 && f <= 1, "train_test_split: data.train_fraction {} (expected in (0, 1])", f);
  ids = split_input_order(std::move(ids), o.order, "train_test_split");
  const auto n = static_cast<int64_t>(ids.size());
  GTGM_CHECK(n >= 1, "train_test_split: no cases to split");
  PyRandom rng(o.seed);
  rng.shuffle(ids);
  int64_t n_train = n;
  if (f < 1.0) {
    GTGM_CHECK(n >= 2,
               "train_test_split: {} case cannot be split into train and test (expected at least 2, or "
               "data.train_fraction: 1)",
               n);
    if (o.sizes == config::SplitSizes::Reference) {
      n_train = py_int(static_cast<double>(n) * f);  // datalist[:int(n * 0.8)] / datalist[int(n * 0.8):]
    } else {
      // The small epsilon keeps e.g. 10 * 0.2 = 2.0000000000000004 from rounding up to 3.
      n_train = n - static_cast<int64_t>(std::ceil(static_cast<double>(n) * (1.0 - f) - 1e-9));
    }
    n_train = std::clamp<int64_t>(n_train, 1, n - 1);
  }
  Split s;
  s.train.assign(ids.begin(), ids.begin() + n_train);
  s.test.assign(ids.begin() + n_train, ids.end());
  s.train_rate = f;
  return s;
}

Split kfold_split(std::vector<std::string> ids, int num_folds, int fold, const SplitOptions& o) {
  ids = split_input_order(std::move(ids), o.order, "kfold_split");
  const auto n = static_cast<int>(ids.size());
  GTGM_CHECK(num_folds >= 2 && num_folds <= n, "kfold_split: {} folds for {} cases (expected 2 <= folds <= cases)",
             num_folds, n);
  GTGM_CHECK(fold >= 0 && fold < num_folds, "kfold_split: fold {} (expected 0..{})", fold, num_folds - 1);
  PyRandom rng(o.seed);
  rng.shuffle(ids);
  int begin = 0;
  for (int f = 0; f < fold; ++f) begin += n / num_folds + (f < n % num_folds ? 1 : 0);
  const int end = begin + n / num_folds + (fold < n % num_folds ? 1 : 0);
  Split s;
  for (int i = 0; i < n; ++i) (i >= begin && i < end ? s.test : s.train).push_back(ids[static_cast<size_t>(i)]);
  return s;
}

std::vector<std::string> label_fraction_subset(const Split& split, double fraction, const SplitOptions& o) {
  GTGM_CHECK(fraction > 0 && fraction <= 1, "data.label_fraction {} (expected in (0, 1])", fraction);
  GTGM_CHECK(!split.train.empty(), "data.label_fraction {}: the train split is empty", fraction);
  const auto n_train = static_cast<int64_t>(split.train.size());
  const auto n_all = static_cast<double>(split.train.size() + split.test.size());
  const bool of_all = o.label_fraction_of == config::LabelFractionOf::All;
  int64_t k = 0;
  if (o.sizes == config::SplitSizes::Reference) {
    // The reference's datalist[:int(n * train_rate)], train_rate = 0.8 * fraction ("of train") or
    // fraction ("of all"); a k-fold split has no train_rate: fraction of its train part.
    if (split.train_rate > 0)
      k = py_int(n_all * (of_all ? fraction : split.train_rate * fraction));
    else
      k = py_int((of_all ? n_all : static_cast<double>(n_train)) * fraction);
  } else {
    k = static_cast<int64_t>(std::floor(fraction * (of_all ? n_all : static_cast<double>(n_train)) + 0.5));
  }
  // At least one labelled case (the reference's int() gives 0 for 1% of a small task, which
  // would train on nothing), never more than the train part.
  k = std::clamp<int64_t>(k, 1, n_train);
  return {split.train.begin(), split.train.begin() + k};
}

Split split_from_config(const std::vector<std::string>& ids, const config::DataConfig& cfg) {
  const SplitOptions o = split_options(cfg);
  if (cfg.fold >= 0) return kfold_split(ids, cfg.num_folds, cfg.fold, o);
  return train_test_split(ids, o);
}

int64_t em_train_depth(int64_t depth, double train_z) {
  if (train_z >= 1.0) return depth;
  GTGM_CHECK(depth >= 2, "EM split: a volume needs at least 2 slices to split into train and test, got {}", depth);
  return std::clamp<int64_t>(static_cast<int64_t>(std::llround(train_z * static_cast<double>(depth))), 1, depth - 1);
}

}  // namespace gtgm::data
