#include "gtgm/app/run_session.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/build_info.h"
#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/core/log_file_only.h"
#include "gtgm/core/seed.h"
#include "gtgm/dist/launch_env.h"
#include "gtgm/train/checkpoint.h"

namespace gtgm::app {

namespace {

// Takes RUN_DIR/.gtgm.lock (flock, exclusive, not waiting) and writes who holds it; throws naming
// the holder when another process has it.
int lock_run_dir(const std::filesystem::path& run_dir, const std::string& command) {
  const std::filesystem::path path = run_dir / ".gtgm.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  GTGM_CHECK(fd >= 0, "{}: cannot open the run dir's lock file: {}", path.string(), std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder(512, '\0');
    const ssize_t n = ::pread(fd, holder.data(), holder.size(), 0);
    holder.resize(n > 0 ? static_cast<size_t>(n) : 0);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
    ::close(fd);
    GTGM_CHECK(err != EWOULDBLOCK,
               "{} is in use by another gtgm run ({}); wait for it to end or stop it: two runs in one "
               "run dir would interleave their metrics and delete each other's checkpoints",
               run_dir.string(), holder.empty() ? std::string("holder unknown") : holder);
    GTGM_THROW("{}: cannot lock the run dir: {}", path.string(), std::strerror(err));
  }
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  char since[32] = {0};
  const std::time_t now = std::time(nullptr);
  std::strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  const std::string who = fmt::format("gtgm {}, pid {} on {}, since {}\n", command, ::getpid(), host, since);
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, who.data(), who.size(), 0);
  return fd;
}

}  // namespace

RunSession::RunSession(const config::Config& cfg, const std::string& command, bool resuming, const std::string& detail)
    : device(core::select_device(cfg.run.device, dist::read_launch_env().local_rank)),
      ctx(dist::init_from_env(cfg.dist, device)) {
  core::set_log_level(cfg.run.log_level);
  core::set_num_threads(cfg.run.threads);
  core::seed_everything(static_cast<uint64_t>(cfg.run.seed));
  if (!ctx.is_rank0()) return;
  const std::filesystem::path run_dir = cfg.run.dir;
  std::filesystem::create_directories(run_dir);
  lock_.fd = lock_run_dir(run_dir, command);
  // Temp files of a killed earlier process (its metrics, best.json, checkpoint folders).
  const int stale =
      core::remove_stale_temp_files(run_dir) + core::remove_stale_temp_files(train::checkpoints_root(run_dir));
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
  GTGM_INFO("gtgm {} {}: {}run dir {}, {} process(es), device {}", command, core::gtgm_version(), detail,
            run_dir.string(), ctx.world_size(), device.str());
  config::write_resolved(cfg, run_dir);
  // The whole table only at debug level: at info it would bury the run's progress on the console.
  GTGM_INFO("resolved config: {} (every key; the table: --log-level debug)",
            (run_dir / "config.resolved.yaml").string());
  GTGM_DEBUG("resolved config:\n{}", config::format_table(cfg));
}

RunSession::DirLock::~DirLock() {
  if (fd >= 0) ::close(fd);  // releases the flock
}

}  // namespace gtgm::app
