#include "gtgm/app/pretraining_overlap.h"

#include <fmt/format.h>

#include <filesystem>
#include <vector>

#include "gtgm/config/load.h"
#include "gtgm/config/saved_config.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/train/checkpoint.h"

namespace fs = std::filesystem;

namespace gtgm::app {
namespace {

// The config the pretraining run was made with: a checkpoint's config.yaml, a run dir's
// config.resolved.yaml (or its newest checkpoint's), an export dir's config.yaml; nullopt for a
// bare weights file.
std::optional<config::Config> pretraining_config(const fs::path& init) {
  std::vector<fs::path> candidates;
  if (fs::is_regular_file(init)) {
    candidates.push_back(init.parent_path() / "config.yaml");
  } else {
    candidates.push_back(init / "config.yaml");  // a checkpoint or export dir
    candidates.push_back(init / "config.resolved.yaml");
    if (fs::exists(train::checkpoints_root(init))) {
      if (auto latest = train::latest_valid_checkpoint(init)) candidates.push_back(*latest / "config.yaml");
    }
  }
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c)) return config::load_saved_config(core::read_text_file(c), c.string());
  }
  return std::nullopt;
}

// One spelling per folder: symlinks resolved where the path exists, "..", "." and a trailing "/" gone.
std::string canonical(const std::string& p) {
  fs::path c = fs::weakly_canonical(fs::path(p)).lexically_normal();
  if (c.has_parent_path() && c.filename().empty()) c = c.parent_path();
  return c.string();
}

}  // namespace

PretrainingOverlap check_pretraining_overlap(const config::Config& finetune_cfg, const std::string& init) {
  if (init.empty() || finetune_cfg.data.format != config::DataFormat::CREMI) return {};
  const std::optional<config::Config> pre = pretraining_config(init);
  if (!pre) {
    return {PretrainingOverlap::Kind::Unknown,
            fmt::format("{} records no pretraining config (config.yaml), so whether it saw the held-out slices of "
                        "{} cannot be told",
                        init, finetune_cfg.data.root)};
  }
  std::vector<config::DataConfig> sources = {pre->data};
  for (const auto& file : pre->train.mix_datasets) {
    try {
      sources.push_back(config::load_config(file).data);
    } catch (const std::exception& e) {
      return {PretrainingOverlap::Kind::Unknown,
              fmt::format("{}: its train.mix_datasets entry {} does not load ({}), so its data cannot be checked", init,
                          file, e.what())};
    }
  }
  const std::string root = canonical(finetune_cfg.data.root);
  const double test_from = finetune_cfg.finetune.em_train_z;
  for (const auto& s : sources) {
    if (s.format != config::DataFormat::CREMI || s.root.empty() || canonical(s.root) != root) continue;
    if (s.em_pretrain_z > test_from) {
      return {PretrainingOverlap::Kind::Overlap,
              fmt::format("the pretraining run {} sampled {} up to {:g}% of each volume's depth (data.em_pretrain_z "
                          "{:g}), but this fine-tuning run scores the slices from {:g}% on (finetune.em_train_z {:g})",
                          init, finetune_cfg.data.root, 100.0 * s.em_pretrain_z, s.em_pretrain_z, 100.0 * test_from,
                          test_from)};
    }
  }
  return {};
}

}  // namespace gtgm::app
