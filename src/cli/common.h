#pragma once
// Shared by the command files of the gtgm executable: the options every command that reads a
// config takes, and loading that config.
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

}  // namespace gtgm::cli
