#include "gtgm/app/run_session.h"

#include <filesystem>

#include "gtgm/config/load.h"
#include "gtgm/core/build_info.h"
#include "gtgm/core/device.h"
#include "gtgm/core/seed.h"
#include "gtgm/dist/launch_env.h"

namespace gtgm::app {

RunSession::RunSession(const config::Config& cfg, const std::string& command, const std::string& detail)
    : device(core::select_device(cfg.run.device, dist::read_launch_env().local_rank)),
      ctx(dist::init_from_env(cfg.dist, device)) {
  core::set_log_level(cfg.run.log_level);
  core::set_num_threads(cfg.run.threads);
  core::seed_everything(static_cast<uint64_t>(cfg.run.seed));
  if (!ctx.is_rank0()) return;
  const std::filesystem::path run_dir = cfg.run.dir;
  std::filesystem::create_directories(run_dir);
  log_file_.emplace(run_dir / "log.txt");
  GTGM_INFO("gtgm {} {}: {}run dir {}, {} process(es), device {}", command, core::gtgm_version(), detail,
            run_dir.string(), ctx.world_size(), device.str());
  GTGM_INFO("resolved config:\n{}", config::format_table(cfg));
  config::write_resolved(cfg, run_dir);
}

}  // namespace gtgm::app
