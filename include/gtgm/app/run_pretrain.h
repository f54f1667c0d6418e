#pragma once
/// `gtgm pretrain` as a library call (cli/ only parses arguments).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/train/trainer.h"

namespace gtgm::app {

struct PretrainOptions {
  /// Run directory (or checkpoint directory) to continue; empty = a fresh run in run.dir.
  std::string resume;
  /// Stop with a checkpoint once this many steps are done (-1 = train.steps).
  int64_t stop_after = -1;
};

/// The config of a resumed run: with no --config, the checkpoint's own config.yaml with `sets`
/// applied; with one, that file (+ `sets`). run.dir becomes the resumed run directory either way.
config::Config resume_config(const std::filesystem::path& resume, const std::string& config_file,
                             const std::vector<std::string>& sets);

/// Pretrains: distributed context from the launch environment, run dir + log + resolved config,
/// PretrainTask, Trainer (resumed when options.resume is set), run. Returns how it ended.
train::TrainResult run_pretrain(const config::Config& cfg, const PretrainOptions& options);

}  // namespace gtgm::app
