#pragma once
// Shared by the command files of the gtgm executable: options every job command takes and the
// start of a run (config, run dir, log file, resolved config).
#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "gtgm/config/load.h"
#include "gtgm/core/error.h"

namespace gtgm::cli {

/// Options common to commands that read a config.
struct ConfigOptions {
  std::string config;             // --config
  std::vector<std::string> sets;  // --set a.b=c (repeatable)
  std::string log_level;          // --log-level (overrides run.log_level)
};

/// Adds --config (required or not), --set and --log-level to `cmd`.
void add_config_options(CLI::App& cmd, ConfigOptions& opts, bool config_required);

/// Loads the config (defaults when no --config), applies --set and --log-level.
config::Config load_config(const ConfigOptions& opts);

/// Seeds, sets threads and log level, creates run.dir, adds RUN_DIR/log.txt, prints the resolved
/// config table and writes config.resolved.yaml (rank 0 only).
void start_run(const config::Config& cfg, const std::string& command);

/// A command whose implementation has not landed yet: throws a clear error (exit 1).
[[noreturn]] void not_built(const std::string& command, const std::string& what);

/// Adds the "not built yet" placeholders for commands that no cmd_<name>.cpp registered.
void register_pending(CLI::App& app);

}  // namespace gtgm::cli
