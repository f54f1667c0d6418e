#pragma once
/// Dataset-level planning and preprocessing (what `gtgm plan` and `gtgm preprocess` run): read the
/// manifest, check or fingerprint every case in parallel, plan, and fill the cache directory.
/// Bad cases are collected and reported together, never one at a time.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/data/plan.h"
#include "gtgm/io/checks.h"

namespace gtgm::data {

/// data.cache_dir, or <data.root>/gtgm_cache when empty.
std::filesystem::path resolve_cache_dir(const config::DataConfig& cfg);

/// `gtgm plan --check`: runs every io check over every training case of the manifest (reading
/// each file) and returns all problems (empty = the dataset is fine).
std::vector<io::Problem> check_dataset(const config::DataConfig& cfg);

struct PlanResult {
  Fingerprint fingerprint;
  Plan plan;
  std::filesystem::path cache_dir;
};

/// `gtgm plan`: fingerprints every training case (data.preprocess.workers threads), plans, and
/// writes fingerprint.json and plan.json into the cache dir. Cases that cannot be read are all
/// reported in one error. `seed` (run.seed) picks the intensity samples of each case.
PlanResult run_plan(const config::DataConfig& cfg, int64_t seed);

struct PreprocessResult {
  std::filesystem::path cache_dir;
  int written = 0;  ///< cases preprocessed now
  int reused = 0;   ///< cases already in the cache for the same plan
};

/// `gtgm preprocess`: plans first when plan.json is missing, checks the plan against the config,
/// preprocesses every training case into cases/ (skipping cases already written for this plan
/// unless `force`), then writes cache.json. Failing cases are all reported in one error after
/// the others are written. `seed` (run.seed) seeds each case's preprocessing.
PreprocessResult run_preprocess(const config::DataConfig& cfg, int64_t seed, bool force = false);

}  // namespace gtgm::data
