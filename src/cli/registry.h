#pragma once
// Commands register themselves: each src/cli/cmd_<name>.cpp holds one
//   GTGM_REGISTER_COMMAND(name, register_fn);
// and main() asks the registry for all of them. Commands not registered yet are listed by
// cmd_pending.cpp with their --help and a clear "not built yet" error.
#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <string>

namespace gtgm::cli {

using RegisterFn = std::function<void(CLI::App&)>;

/// name -> function adding the subcommand to the app.
std::map<std::string, RegisterFn>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(const std::string& name, RegisterFn fn) { command_registry()[name] = std::move(fn); }
};

}  // namespace gtgm::cli

#define GTGM_REGISTER_COMMAND(name, fn) \
  static const ::gtgm::cli::CommandRegistrar gtgm_command_registrar_##fn(name, fn)
