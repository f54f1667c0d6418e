#include "gtgm/app/run_pretrain.h"

#include "gtgm/app/dataset_checks.h"
#include "gtgm/app/run_session.h"
#include "gtgm/app/train_setup.h"
#include "gtgm/config/load.h"
#include "gtgm/config/saved_config.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/data/manifest.h"
#include "gtgm/train/batch_checks.h"
#include "gtgm/train/checkpoint.h"
#include "gtgm/train/pretrain_task.h"

namespace fs = std::filesystem;

namespace gtgm::app {

config::Config resume_config(const fs::path& resume, const std::string& config_file,
                             const std::vector<std::string>& sets) {
  std::vector<std::string> all = sets;
  // The run continues where its checkpoints are, whatever run.dir the config names.
  const fs::path run_dir = fs::exists(resume / "manifest.json") ? resume.parent_path().parent_path() : resume;
  all.push_back("run.dir=" + run_dir.string());
  if (!config_file.empty()) return config::load_config(config_file, all);
  const fs::path ck = train::resolve_checkpoint(resume);
  return config::load_saved_config(core::read_text_file(ck / "config.yaml"), (ck / "config.yaml").string(), all);
}

train::TrainResult run_pretrain(const config::Config& cfg_in, const PretrainOptions& options) {
  // The keys that follow the dataset: data.modality from the pretraining dataset; model.in_channels
  // is 1 whatever the dataset (each view is one channel of a volume, drawn at random by
  // data::PretrainLoader); data.crop_size: auto is each cache's planned patch (make_loader_source).
  config::Config cfg = cfg_in;
  std::vector<std::string> filled;
  if (cfg.model.encoder.in_channels == 0) {
    cfg.model.encoder.in_channels = 1;
    filled.emplace_back("model.in_channels: auto = 1 (each pretraining view is one channel of a volume)");
  }
  if (cfg.data.modality == config::Modality::Auto) {
    for (auto& line : resolve_dataset_auto(cfg, data::load_manifest(cfg.data), /*segmentation=*/false))
      filled.push_back(std::move(line));
  }
  const RunSession session(cfg, "pretrain", /*resuming=*/!options.resume.empty());
  for (const auto& line : filled) GTGM_INFO("{}", line);
  train::BatchLayout layout;
  layout.local_batch = cfg.data.batch_size;
  layout.world_size = session.ctx.world_size();
  layout.bn_synced = cfg.model.sync_bn;  // the Trainer synchronises them when world_size > 1
  // The config is the same on every rank: one warning per run, from rank 0.
  for (const auto& w : train::small_batch_warnings(cfg.model, cfg.loss, layout)) {
    GTGM_LOG_RANK0(spdlog::level::warn, "{}", w);
  }
  train::PretrainTask task(pretrain_task_config(cfg), session.device);
  train::TrainerOptions to;
  to.stop_after = options.stop_after;
  train::Trainer trainer(trainer_config(cfg), task, session.device, to);
  if (!options.resume.empty()) trainer.resume(options.resume);
  const train::TrainResult r = trainer.run();
  GTGM_INFO("pretraining {} at step {} after {:.1f}s ({} skipped step(s)); checkpoints in {}",
            r.interrupted ? "stopped" : "finished", r.step, r.seconds, r.skipped_steps,
            train::checkpoints_root(cfg.run.dir).string());
  return r;
}

}  // namespace gtgm::app
