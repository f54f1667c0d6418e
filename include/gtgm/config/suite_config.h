#pragma once
/// The `gtgm eval` suite file (configs/eval/*.yaml): which datasets to fine-tune, with which
/// fine-tuning config, on which data, from which encoder initialisations, at which label fractions,
/// and the paper's published numbers to print beside ours. Keys and precedence: docs/eval.md.
///
///   name: gtgm13
///   note: ""                              # a line under the report's title
///   output_dir: runs/eval/gtgm13          # report.md/csv/json, runs/, overlays/
///   data_root: data                       # fallback when $GTGM_DATA_ROOT is unset
///   data_root_env: GTGM_DATA_ROOT         # "" = ignore the environment
///   label_fractions: [0.01, 0.1, 1.0]
///   seeds: [1, 2, 3]                      # optional: run.seed of each run (default: the config's own)
///   overlay_cases: 3
///   set: [run.device=cuda]                # --set for every fine-tuning config
///   inits: {gtgm: runs/pretrain/all, random: ""}
///   datasets:
///     - name: Task03_Liver
///       config: ../finetune/msd/Task03_Liver.yaml   # relative to this file
///       data: msd/Task03_Liver                      # relative to the data root
///       metric: dice
///       label_fractions: [...]                      # optional, else the suite's
///       fraction_labels: ["10%", "75%"]             # optional names of the fractions in the report
///       set: [train.steps=20000]                    # optional, after the suite's set
///       paper: {gtgm: [52.46, 58.67, 65.61], random: [45.21, 51.24, 61.34]}
///
/// Strict like the run configs: an unknown key, a wrong type or a bad value is a ConfigError
/// naming "<file>:<line>: <key path>". `inherit:` and `--set key.path=value` work as in load.h
/// (--set reaches mappings only, not list elements).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gtgm::config {

/// One dataset row group of the suite.
struct SuiteDataset {
  std::string name;                     ///< row label, e.g. "Task03_Liver"
  std::filesystem::path config;         ///< fine-tuning config (resolved against the suite file's folder)
  std::string data;                     ///< data folder relative to the data root
  std::string metric = "dice";          ///< dice, hd95, nsd, voi or arand (summary.json mean)
  std::vector<double> label_fractions;  ///< the dataset's own, else the suite's
  /// How the report names each fraction (CREMI: the paper's "10%" / "75%" are label_fraction 0.167 /
  /// 1.0 of the training slices); empty = the fraction as a percentage.
  std::vector<std::string> fraction_labels;
  std::vector<std::string> sets;  ///< --set for this dataset's fine-tuning config (after the suite's)
  /// Published numbers per init name, aligned with label_fractions (nullopt = not published).
  std::vector<std::pair<std::string, std::vector<std::optional<double>>>> paper;
  std::string where;  ///< "<file>:<line>" of the entry, for messages
};

/// One encoder initialisation to compare: a pretraining run dir / checkpoint / export / .safetensors,
/// or "" for random initialisation.
struct SuiteInit {
  std::string name;
  std::string path;
};

struct SuiteConfig {
  std::filesystem::path file;  ///< the suite file ("" when loaded from a string)
  std::string name = "suite";
  std::string note;  ///< printed under the report's title
  std::string output_dir = "runs/eval";
  std::string data_root;         ///< resolved (see load_suite_config)
  std::string data_root_source;  ///< "--data-root", "--set data_root", "$GTGM_DATA_ROOT" or "<file>:<line>"
  std::string data_root_env = "GTGM_DATA_ROOT";
  std::vector<double> label_fractions = {1.0};
  /// Fine-tuning seeds (run.seed: initialisation, crop sampling, augmentation; the case split has its
  /// own data.split_seed and stays fixed). Each (dataset, fraction, init) runs once per seed in
  /// <init>-f<fraction>-s<seed>/. Empty (the default) = one run with the fine-tuning config's own
  /// run.seed in <init>-f<fraction>/, as before seeds existed.
  std::vector<int64_t> seeds;
  int overlay_cases = 3;
  /// Run a CREMI row whose init's pretraining run sampled the row's held-out slices
  /// (app::check_pretraining_overlap); false refuses it (a failed row naming both settings).
  bool allow_pretraining_on_test_data = false;
  std::vector<std::string> sets;
  std::vector<SuiteInit> inits;
  std::vector<SuiteDataset> datasets;

  /// The published number of `dataset` for `init` at label_fractions[k] (nullopt when none).
  std::optional<double> paper_value(const SuiteDataset& dataset, const std::string& init, size_t k) const;
};

/// Metrics a suite may report and whether lower is better (hd95, voi, arand).
const std::vector<std::string>& suite_metric_names();
bool metric_lower_is_better(const std::string& metric);

/// Reads a suite file. The data root is, first that applies: `data_root_override` (--data-root),
/// `--set data_root=...`, the environment variable named by data_root_env (when set and not
/// empty), the file's data_root, "data".
SuiteConfig load_suite_config(const std::filesystem::path& file, const std::vector<std::string>& sets = {},
                              const std::string& data_root_override = "");
/// Same from text (`name` stands for the file in messages; paths resolve against `base_dir`).
SuiteConfig load_suite_config_string(const std::string& yaml, const std::string& name,
                                     const std::filesystem::path& base_dir, const std::vector<std::string>& sets = {},
                                     const std::string& data_root_override = "");

}  // namespace gtgm::config
