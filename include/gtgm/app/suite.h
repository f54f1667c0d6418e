#pragma once
/// `gtgm eval`: the evaluation suite. For every (dataset, label fraction, init) of a suite config
/// (gtgm/config/suite_config.h) it fine-tunes, predicts and scores through a FinetuneRunner
/// (app::run_finetune in production), then writes report.md, report.csv and report.json with our
/// numbers beside the paper's, and overlay PNGs of held-out cases (see docs/eval.md).
///
/// Runs live in OUTPUT_DIR/runs/<dataset>/<init>-f<fraction>/ (with `seeds:`, one per seed in
/// <init>-f<fraction>-s<seed>/; reports then give mean +- sd over seeds and the paired difference
/// pretrained - random per dataset with a bootstrap CI, see suite_stats below). Before starting one the suite writes
/// suite_request.yaml there (the resolved fine-tuning config + options); after it finishes,
/// suite_result.json. A later `gtgm eval`:
///  - reuses a run whose suite_result.json and summary.json exist and whose request equals the
///    current one (the runner is not called);
///  - resumes a run with the same request and checkpoints but no result (interrupted);
///  - refuses (a failed row naming the differing keys) a run dir holding another request.
/// A dataset whose data folder is missing gives rows "data missing: <path>"; a run that throws
/// gives a row with the error; the suite continues and always writes the report. A run stopped by
/// a signal (Ctrl-C, Slurm's SIGTERM; it leaves a checkpoint) stops the suite: its row says
/// "interrupted", the runs after it "not run", and the next invocation resumes it.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gtgm/app/finetune.h"
#include "gtgm/config/enum_names.h"
#include "gtgm/config/suite_config.h"
#include "gtgm/infer/stats.h"

namespace gtgm::app {

/// What happened to one run of the suite; reports spell it as its config::EnumNames entry.
enum class RowStatus {
  Done,         ///< "done": run now
  Reused,       ///< "reused": an earlier run with the same request
  Resumed,      ///< "resumed": an interrupted run finished now
  DataMissing,  ///< "data missing"
  Failed,       ///< "failed"
  Interrupted,  ///< "interrupted": stopped by a signal (the suite stops)
  NotRun,       ///< "not run": after an interruption
  WouldRun,     ///< "would run" (dry run)
  WouldReuse,   ///< "would reuse" (dry run)
  WouldResume,  ///< "would resume" (dry run)
};

}  // namespace gtgm::app

namespace gtgm::config {
template <>
struct EnumNames<app::RowStatus> {
  static constexpr std::pair<app::RowStatus, const char*> items[] = {
      {app::RowStatus::Done, "done"},
      {app::RowStatus::Reused, "reused"},
      {app::RowStatus::Resumed, "resumed"},
      {app::RowStatus::DataMissing, "data missing"},
      {app::RowStatus::Failed, "failed"},
      {app::RowStatus::Interrupted, "interrupted"},
      {app::RowStatus::NotRun, "not run"},
      {app::RowStatus::WouldRun, "would run"},
      {app::RowStatus::WouldReuse, "would reuse"},
      {app::RowStatus::WouldResume, "would resume"},
  };
};
}  // namespace gtgm::config

namespace gtgm::app {

/// Fine-tunes + predicts + scores one run (app::run_finetune, or a test double).
using FinetuneRunner = std::function<FinetuneResult(const config::Config&, const FinetuneOptions&)>;

struct SuiteRunOptions {
  FinetuneRunner runner;          ///< required (cli passes app::run_finetune)
  std::vector<std::string> only;  ///< dataset names to run; empty = all (unknown names are an error)
  bool dry_run = false;           ///< list what would run / be reused / is missing; run nothing, write nothing
  bool overlays = true;           ///< render overlay PNGs
};

/// One cell group of the table: a (dataset, fraction, init) run.
struct SuiteRow {
  std::string dataset;
  std::string metric;
  double fraction = 1.0;
  std::string fraction_label;  ///< "10%": the dataset's fraction_labels entry, else the percentage
  std::string init;
  int64_t seed = 0;  ///< run.seed of the run (a suite `seeds:` entry, else the fine-tuning config's)
  RowStatus status = RowStatus::Done;
  std::string message;                    ///< "data missing: <path>", the error, or "" when fine
  std::optional<double> ours;             ///< in report units (Dice in %, others as scored)
  /// The same quantity computed the way the paper's number was (paper_way_metric(metric): Dice
  /// with background, as the reference's MONAI DiceMetric(include_background=True)), report units.
  std::optional<double> ours_as_paper;
  std::optional<double> paper;  ///< published number, same units
  std::map<std::string, double> metrics;  ///< every mean metric of the run, as scored
  std::string run_dir;
  std::string summary_json;
  std::string init_report;
  int64_t train_cases = 0;
  int64_t test_cases = 0;
  double seconds = 0;  ///< wall time of the run when it ran (recorded in suite_result.json)
};

struct SuiteResult {
  std::vector<SuiteRow> rows;
  /// Overlay PNGs per dataset (paths relative to the output dir).
  std::map<std::string, std::vector<std::string>> overlays;
  /// Per-seed plot PNGs per dataset (paths relative to the output dir; written when a suite has `seeds:`).
  std::map<std::string, std::vector<std::string>> plots;
  std::filesystem::path report_md, report_csv, report_json;
  std::filesystem::path report_stats_csv;  ///< report_stats.csv (mean +- sd and paired rows), with `seeds:`
  std::string table;  ///< the Markdown table printed at the end
};

/// Runs the suite (see the file comment). Throws only for a bad --only name or a missing runner.
SuiteResult run_suite(const config::SuiteConfig& suite, const SuiteRunOptions& options);

/// Report value of a scored metric: Dice and NSD as percentages (as the paper prints them), the
/// others unchanged.
double report_value(const std::string& metric, double scored);

/// The summary.json mean that is computed the way the paper computed `metric`: "dice" ->
/// "dice_with_bg" (the reference averages the background class in, finetune/task1.py:318); the
/// others are computed as the reference does and map to themselves.
std::string paper_way_metric(const std::string& metric);

/// The resolved fine-tuning config of one run (the dataset's config + suite/dataset --set + data
/// root, label fraction, run dir, name and train.init of the init).
/// With a `seed`, also run.seed and a run name/dir with -s<seed>.
config::Config run_config(const config::SuiteConfig& suite, const config::SuiteDataset& dataset, double fraction,
                          const config::SuiteInit& init, std::optional<int64_t> seed = std::nullopt);
/// OUTPUT_DIR/runs/<dataset>/<init>-f<fraction>, with a seed <init>-f<fraction>-s<seed>.
std::filesystem::path run_dir(const config::SuiteConfig& suite, const std::string& dataset, const std::string& init,
                              double fraction, std::optional<int64_t> seed = std::nullopt);

/// Report texts (also used by tests). `overlays` maps dataset -> PNG paths relative to the output dir.
std::string format_report_table(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows);
/// `plots`: per-seed plot PNGs per dataset (SuiteResult::plots), shown with `seeds:`.
std::string format_report_markdown(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows,
                                   const std::map<std::string, std::vector<std::string>>& overlays,
                                   const std::map<std::string, std::vector<std::string>>& plots = {});
std::string format_report_csv(const std::vector<SuiteRow>& rows);
std::string format_report_json(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows,
                               const std::map<std::string, std::vector<std::string>>& overlays,
                               const std::map<std::string, std::vector<std::string>>& plots = {});

// ---- Statistics over seeds (src/app/suite_stats.cpp) ----

/// One (dataset, fraction, init) over its seeds: the report value (`ours`) of each finished run.
struct SeedSummary {
  std::string dataset, metric, fraction_label, init;
  double fraction = 1.0;
  std::vector<int64_t> seeds;  ///< seeds with a value, in suite order
  std::vector<double> values;  ///< ours of each of those seeds
  int64_t runs = 0;            ///< rows of this cell (with or without a value)
  double mean = 0, sd = 0;     ///< over values (sd NaN for one value; both NaN for none)
};

/// Pretrained init vs the random init (the init with path "") of one (dataset, fraction), paired by
/// seed over the seeds where both have a value: infer::compare_paired(pretrained, random).
struct PairedRow {
  std::string dataset, metric, fraction_label, init, baseline;
  double fraction = 1.0;
  std::vector<int64_t> seeds;
  infer::PairedComparison cmp;  ///< valid when cmp.n > 0
  std::string verdict;  ///< "significant", "not significant" (CI holds 0), "n/a (1 seed)" or "n/a (no paired runs)"
};

std::vector<SeedSummary> summarize_seeds(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows);
/// Empty when the suite has no random init.
std::vector<PairedRow> paired_rows(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows);
/// The report.md sections "Over seeds" and "Pretrained vs random" (Markdown; `plots` as in SuiteResult).
std::string format_seed_sections(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows,
                                 const std::map<std::string, std::vector<std::string>>& plots);
/// report_stats.csv: one "seeds" line per SeedSummary, one "paired" line per PairedRow.
std::string format_stats_csv(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows);
/// Adds "seed_summary", "paired" (with the bootstrap settings) and "plots" to a report.json object.
void add_seed_statistics(nlohmann::json& report, const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows,
                         const std::map<std::string, std::vector<std::string>>& plots);

/// A per-seed plot of one (dataset, fraction): one column per init, a dot per seed (value on a
/// linear y axis from `lo` (bottom) to `hi` (top)), grey lines joining the same seed across inits,
/// a black tick at each init's mean; uint8 [height, width, 3]. Colours: kPlotColours by init order.
torch::Tensor render_seed_plot(const std::vector<SeedSummary>& cells, double lo, double hi, int height = 240);
/// Init colours of render_seed_plot (RGB), cycled; named in report.md.
extern const std::vector<std::pair<std::string, std::array<uint8_t, 3>>> kPlotColours;
/// Writes OUTPUT_DIR/plots/<dataset>-f<fraction>.png for every (dataset, fraction) with a value;
/// returns dataset -> paths relative to the output dir.
std::map<std::string, std::vector<std::string>> write_seed_plots(const config::SuiteConfig& suite,
                                                                 const std::vector<SuiteRow>& rows);

struct OverlayOptions {
  int size = 256;     ///< side of each panel in pixels
  int max_cases = 3;  ///< cases rendered (first ones of summary.json)
};

/// Renders, for the first cases of a `gtgm score` summary.json, app::render_overlay's view
/// (gtgm/app/overlay.h: radiological axial slice through the reference foreground, image |
/// prediction | reference, case id, per-case Dice, legend named by dataset.json "labels"). Images
/// are found through the dataset manifest of `cfg` (data.format, data.root) by case id. Writes
/// `out_dir`/<prefix><case>.png and returns the paths written. A case whose image cannot be found
/// is skipped with a warning. Used by `gtgm eval` and `gtgm finetune` (RUN_DIR/overlays/).
std::vector<std::filesystem::path> write_overlays(const config::Config& cfg, const std::filesystem::path& summary_json,
                                                  const std::filesystem::path& out_dir, const std::string& prefix,
                                                  const OverlayOptions& options = {});

}  // namespace gtgm::app
