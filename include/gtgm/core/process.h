#pragma once
/// Running a shell command line and capturing what it prints (the Python references of `gtgm bench`
/// and the tests).
#include <string>

namespace gtgm::core {

/// What a command printed and how it ended.
struct CommandResult {
  int exit_code = -1;  ///< exit status; -1 when it could not start or did not exit normally
  std::string output;  ///< stdout and stderr, interleaved
};

/// Runs `command_line` through /bin/sh (quoted by the caller) with stderr merged into stdout, waits
/// for it and returns its output and exit status.
CommandResult run_command(const std::string& command_line);

}  // namespace gtgm::core
