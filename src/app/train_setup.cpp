#include "gtgm/app/train_setup.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "gtgm/config/load.h"
#include "gtgm/config/saved_config.h"
#include "gtgm/core/error.h"

namespace gtgm::app {

train::TrainerConfig trainer_config(const config::Config& cfg) {
  train::TrainerConfig t{cfg.run, cfg.train,        cfg.optim, cfg.dist, cfg.data, config::to_yaml(cfg),
                         nullptr, cfg.model.sync_bn};
  t.check_resume = [current = cfg](const std::string& saved_yaml, const std::string& checkpoint) {
    const config::Config saved =
        config::load_saved_config(saved_yaml, (std::filesystem::path(checkpoint) / "config.yaml").string());
    check_resume_config(saved, current, checkpoint);
  };
  return t;
}

train::PretrainTaskConfig pretrain_task_config(const config::Config& cfg) {
  return {cfg.run, cfg.data, cfg.model, cfg.text, cfg.loss, cfg.train};
}

train::FinetuneTaskConfig finetune_task_config(const config::Config& cfg) {
  return {cfg.run, cfg.data, cfg.model, cfg.finetune};
}

const std::vector<std::string>& resume_whitelist() {
  static const std::vector<std::string> keys = {"run.dir",
                                                "run.name",
                                                "run.log_level",
                                                "run.threads",
                                                "train.steps",
                                                "train.log_every",
                                                "train.checkpoint_every",
                                                "train.keep_last",
                                                "train.validate_every",
                                                "train.max_nonfinite",
                                                "data.root",
                                                "data.cache_dir",
                                                "data.prefetch",
                                                "data.pin_memory",
                                                "data.num_workers",
                                                "text.model_dir",
                                                "text.caption_cache",
                                                "text.embedding_cache",
                                                "dist.timeout_s",
                                                "dist.bucket_mb"};
  return keys;
}

std::vector<std::string> resume_config_mismatches(const config::Config& saved, const config::Config& current) {
  const auto& allowed = resume_whitelist();
  std::vector<std::string> out;
  for (const auto& line : config::diff(saved, current)) {
    const std::string key = line.substr(0, line.find(':'));
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) out.push_back(line);
  }
  return out;
}

void check_resume_config(const config::Config& saved, const config::Config& current, const std::string& checkpoint) {
  const auto mismatches = resume_config_mismatches(saved, current);
  if (mismatches.empty()) return;
  throw ConfigError(fmt::format(
      "cannot resume from {}: its config differs from this run's in {} key(s) (checkpoint -> now):\n  {}\n"
      "Resume with the same config (omit --config to reuse the checkpoint's), or start a new run.dir. Keys that may "
      "differ on resume: {}",
      checkpoint, mismatches.size(), fmt::join(mismatches, "\n  "), fmt::join(resume_whitelist(), ", ")));
}

}  // namespace gtgm::app
