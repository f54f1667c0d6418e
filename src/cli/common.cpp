#include "common.h"

#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/seed.h"

namespace gtgm::cli {

void add_config_options(CLI::App& cmd, ConfigOptions& opts, bool config_required) {
  auto* c = cmd.add_option("-c,--config", opts.config, "YAML config file (see docs/configs.md)");
  if (config_required) c->required();
  cmd.add_option("--set", opts.sets, "Override a key: --set optim.lr=1e-4 (repeatable)")->take_all()->allow_extra_args(false);
  cmd.add_option("--log-level", opts.log_level, "trace|debug|info|warn|error|off (overrides run.log_level)");
}

config::Config load_config(const ConfigOptions& opts) {
  std::vector<std::string> sets = opts.sets;
  if (!opts.log_level.empty()) sets.push_back("run.log_level=" + opts.log_level);
  config::Config cfg = opts.config.empty() ? config::default_config(sets) : config::load_config(opts.config, sets);
  core::set_log_level(cfg.run.log_level);
  return cfg;
}

void start_run(const config::Config& cfg, const std::string& command) {
  core::set_log_level(cfg.run.log_level);
  core::set_num_threads(cfg.run.threads);
  core::seed_everything(static_cast<uint64_t>(cfg.run.seed));
  if (core::log_rank() == 0) {
    std::filesystem::create_directories(cfg.run.dir);
    core::add_log_file(std::filesystem::path(cfg.run.dir) / "log.txt");
    GTGM_INFO("gtgm {}: run dir {}", command, cfg.run.dir);
    GTGM_INFO("resolved config:\n{}", config::format_table(cfg));
    config::write_resolved(cfg, cfg.run.dir);
  }
}

void not_built(const std::string& command, const std::string& what) {
  throw Error(fmt::format("gtgm {}: not built yet ({})", command, what), "");
}

}  // namespace gtgm::cli
