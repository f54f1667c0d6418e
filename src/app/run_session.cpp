#include "gtgm/app/run_session.h"

#include <unistd.h>

#include <filesystem>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/build_info.h"
#include "gtgm/core/device.h"
#include "gtgm/core/dir_lock.h"
#include "gtgm/core/error.h"
#include "gtgm/core/log_file_only.h"
#include "gtgm/core/seed.h"
#include "gtgm/dist/launch_env.h"
#include "gtgm/train/checkpoint.h"

namespace gtgm::app {

RunSession::RunSession(const config::Config& cfg, const std::string& command, bool resuming, const std::string& detail)
    : device(core::select_device(cfg.run.device, dist::read_launch_env().local_rank)),
      ctx(dist::init_from_env(cfg.dist, device)) {
  core::set_log_level(cfg.run.log_level);
  core::set_num_threads(cfg.run.threads);
  core::seed_everything(static_cast<uint64_t>(cfg.run.seed));
  if (!ctx.is_rank0()) return;
  const std::filesystem::path run_dir = cfg.run.dir;
  std::filesystem::create_directories(run_dir);
  lock_ = core::DirLock(run_dir, command, "run",
                        "wait for it to end or stop it: two runs in one run dir would interleave their metrics "
                        "and delete each other's checkpoints");
  const std::string previous_holder = lock_.previous_holder();
  // Temp files of a killed earlier process (its metrics, best.json, checkpoint folders, the
  // held-out predictions and their summary.json of `finetune`).
  const int stale = core::remove_stale_temp_files(run_dir) +
                    core::remove_stale_temp_files(train::checkpoints_root(run_dir)) +
                    core::remove_stale_temp_files(run_dir / "predictions");
  if (stale > 0) GTGM_INFO("removed {} temp file(s) left in {} by a killed earlier run", stale, run_dir.string());
  if (!resuming && !train::list_checkpoints(run_dir).empty()) {
    throw ConfigError(
        fmt::format("{} already holds checkpoints of a run; pass --resume {} to continue it, or set "
                    "run.dir to a new directory",
                    run_dir.string(), run_dir.string()));
  }
  log_file_.emplace(run_dir / "log.txt");
  // Each attempt (a fresh run, every resume) starts a marked section of the appended log.txt.
  core::log_to_files_only(spdlog::level::info,
                          fmt::format("===== gtgm {} {}: {} attempt, pid {} =====", command, core::gtgm_version(),
                                      resuming ? "resumed" : "new", static_cast<long>(::getpid())));
  if (!previous_holder.empty())
    GTGM_INFO("took over the run dir lock of {} (it ended without releasing it: killed?)", previous_holder);
  GTGM_INFO("gtgm {} {}: {}run dir {}, {} process(es), device {}", command, core::gtgm_version(), detail,
            run_dir.string(), ctx.world_size(), device.str());
  config::write_resolved(cfg, run_dir);
  // The whole table only at debug level: at info it would bury the run's progress on the console.
  GTGM_INFO("resolved config: {} (every key; the table: --log-level debug)",
            (run_dir / "config.resolved.yaml").string());
  GTGM_DEBUG("resolved config:\n{}", config::format_table(cfg));
}

}  // namespace gtgm::app
