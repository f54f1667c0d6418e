#include "gtgm/app/run_pretrain.h"

#include "gtgm/app/run_session.h"
#include "gtgm/app/train_setup.h"
#include "gtgm/config/load.h"
#include "gtgm/config/saved_config.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
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

train::TrainResult run_pretrain(const config::Config& cfg, const PretrainOptions& options) {
  const RunSession session(cfg, "pretrain", /*resuming=*/!options.resume.empty());
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
