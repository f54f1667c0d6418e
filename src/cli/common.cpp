#include "common.h"

#include "gtgm/core/logging.h"

namespace gtgm::cli {

void add_config_options(CLI::App& cmd, ConfigOptions& opts, bool config_required) {
  auto* c = cmd.add_option("-c,--config", opts.config, "YAML config file (see docs/configs.md)");
  if (config_required) c->required();
  cmd.add_option("--set", opts.sets, "Override a key: --set optim.lr=1e-4 (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  cmd.add_option("--log-level", opts.log_level, "trace|debug|info|warn|error|off (overrides run.log_level)");
}

config::Config load_config(const ConfigOptions& opts) {
  std::vector<std::string> sets = opts.sets;
  if (!opts.log_level.empty()) sets.push_back("run.log_level=" + opts.log_level);
  config::Config cfg = opts.config.empty() ? config::default_config(sets) : config::load_config(opts.config, sets);
  core::set_log_level(cfg.run.log_level);
  return cfg;
}

}  // namespace gtgm::cli
