#pragma once
/// Deterministic dataset splits, identical on every platform. The paper default is the reference
/// code's own split (finetune/task1.py:179-185, which every run_task*.sh runs):
///
///   datalist = dataset.json "training" list, in file order      (data.split_order: file)
///   random.seed(42); random.shuffle(datalist)                    (PyRandom, py_random.h)
///   labelled = datalist[:int(n * train_rate)]                    (train_rate = 0.8 = "100%")
///   test     = datalist[int(n * 0.8):]
///
/// so that with data.split_sizes: reference, train = the first int(n * train_fraction) shuffled
/// ids, test = the rest, and the labelled cases are the first int(n * rate) of them (at least 1),
/// rate = train_fraction * label_fraction (data.label_fraction_of: train; "10%" = 10% of the train
/// part) or label_fraction (all: 10% of all cases). The labelled sets are nested prefixes.
/// data.split_order: sorted shuffles the ids sorted instead (listing order does not matter);
/// data.split_sizes: rounded takes test = ceil(n * (1 - train_fraction)) and the labelled cases
/// round(f * |train|). scripts/reference/split_reference.py holds both in Python.
///
/// k-fold: the shuffled ids cut into k contiguous folds (the first n % k one longer); fold f is
/// the test part, the other folds in shuffled order the train part.
#include <cstdint>
#include <string>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/data/py_random.h"

namespace gtgm::data {

/// How to split (the data.split_* keys).
struct SplitOptions {
  double train_fraction = 0.8;  ///< data.train_fraction
  uint64_t seed = 42;           ///< data.split_seed
  config::SplitOrder order = config::SplitOrder::File;
  config::SplitSizes sizes = config::SplitSizes::Reference;
  config::LabelFractionOf label_fraction_of = config::LabelFractionOf::Train;
};

/// The data.split_* keys of `cfg` as SplitOptions.
SplitOptions split_options(const config::DataConfig& cfg);

/// A train/test partition of case ids.
struct Split {
  std::vector<std::string> train;  ///< in shuffled order (label fractions take prefixes)
  std::vector<std::string> test;   ///< in shuffled order
  /// Fraction of all cases the train part was cut at (train_fraction; 0 for a k-fold split, whose
  /// label fractions are taken of |train|).
  double train_rate = 0.0;
};

/// The seeded shuffle split (paper protocol: 80/20, seed 42). Needs >= 2 ids when
/// train_fraction < 1 (both parts non-empty); train_fraction == 1 puts every case in train. Ids
/// must be unique; with order File they are shuffled in the order given.
Split train_test_split(std::vector<std::string> ids, const SplitOptions& options = {});

/// Fold `fold` of a seeded k-fold split (0 <= fold < num_folds <= number of ids).
Split kfold_split(std::vector<std::string> ids, int num_folds, int fold, const SplitOptions& options = {});

/// The labelled cases: a prefix of split.train, of the length the file comment gives
/// (at least 1, at most |train|); nested across fractions.
std::vector<std::string> label_fraction_subset(const Split& split, double fraction, const SplitOptions& options = {});

/// The split the config asks for: data.fold >= 0 -> kfold_split(data.num_folds, data.fold),
/// else train_test_split; `ids` in the dataset's listing order (Manifest::listed_ids()).
Split split_from_config(const std::vector<std::string>& ids, const config::DataConfig& cfg);

/// CREMI's z split of a volume with `depth` slices: the training part is the first
/// round(train_z * depth) slices, at least 1 and at most depth - 1 (the rest is held out); with
/// train_z >= 1 (data.em_pretrain_z: 1) the whole depth. Throws for depth < 2 when it splits.
int64_t em_train_depth(int64_t depth, double train_z);

}  // namespace gtgm::data
