#pragma once
/// `gtgm score`: scores prediction files against reference files, nnU-Net evaluation style.
/// Files or folders; in folders, cases are matched by id (file name without its volume
/// extension, io::strip_volume_extension). Writes summary.json and returns a table. Metric
/// definitions: gtgm/infer/metrics.h, gtgm/infer/instance_metrics.h and docs/metrics.md.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace gtgm::infer {

/// Metric names `gtgm score` accepts: per-class dice, hd95, nsd; per-case voi (split + merge) and
/// arand (adapted Rand error).
const std::vector<std::string>& score_metric_names();

/// Per-case (CaseScore::instance) and summary (ScoreSummary::mean) key of the Dice computed the
/// reference's way, background included (metrics.h case_dice_with_background), written whenever
/// "dice" is scored. ScoreSummary::mean["dice"] stays nnU-Net's foreground class mean.
inline constexpr const char* kDiceWithBackground = "dice_with_bg";

struct ScoreOptions {
  std::filesystem::path pred;   ///< prediction file or folder
  std::filesystem::path ref;    ///< reference file or folder (same kind as pred)
  std::vector<int64_t> labels;  ///< classes for dice/hd95/nsd; empty = every nonzero value of the references
  std::vector<std::string> metrics = {"dice"};  ///< subset of score_metric_names()
  double nsd_tolerance = 1.0;                   ///< NSD tolerance in physical units (mm)
  bool both_empty_as_perfect = false;           ///< both masks empty: perfect value instead of NaN
  std::vector<int64_t> ref_ignore = {0};        ///< reference labels left out of voi/arand (CREMI: 0)
  std::filesystem::path output;  ///< summary.json; "" = <pred folder>/summary.json (or next to a pred file)
};

/// One matched case.
struct CasePair {
  std::string id;
  std::filesystem::path pred, ref;
};

/// Pairs prediction and reference files by case id (both files: one case named after the
/// prediction). Throws naming the unmatched ids, duplicate ids, or a file/folder mix.
std::vector<CasePair> match_cases(const std::filesystem::path& pred, const std::filesystem::path& ref);

/// Scores of one case: per class (label -> metric -> value) and per case (voi_split, voi_merge,
/// voi, arand). NaN = undefined (both masks empty; see docs/metrics.md).
struct CaseScore {
  CasePair files;
  std::map<int64_t, std::map<std::string, double>> classes;
  std::map<std::string, double> instance;
};

struct ScoreSummary {
  std::string pred, ref;  ///< the paths scored
  double nsd_tolerance = 1.0;
  bool both_empty_as_perfect = false;
  std::vector<int64_t> labels;
  std::vector<std::string> metrics;
  std::vector<CaseScore> cases;
  /// Per class and metric: mean over cases, NaN values left out.
  std::map<int64_t, std::map<std::string, double>> class_means;
  /// Per metric: for class metrics the mean of the class means (nnU-Net's foreground mean); for
  /// instance metrics (and dice_with_bg) the mean over cases, NaN cases left out.
  std::map<std::string, double> mean;
};

/// Reads every case (labels as integer volumes; HDF5 files without a dataset name use
/// `volumes/labels/neuron_ids` when present), checks that prediction and reference geometry
/// agree, computes the metrics, writes summary.json and returns the summary.
ScoreSummary run_score(const ScoreOptions& options);

/// run_score for pairs chosen by the caller (e.g. `gtgm finetune`: its predictions against the
/// source label files of the held-out cases only). options.pred / options.ref are only recorded in
/// the summary; summary.json goes to options.output (or next to the first prediction when empty).
ScoreSummary score_pairs(const std::vector<CasePair>& pairs, const ScoreOptions& options);

/// The summary as JSON text (NaN written as null).
std::string summary_json(const ScoreSummary& summary);

/// A plain-text table: one row per case and a final "mean" row.
std::string format_score_table(const ScoreSummary& summary);

}  // namespace gtgm::infer
