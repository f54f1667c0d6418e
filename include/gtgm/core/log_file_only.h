#pragma once
/// Lines for the run's log.txt only: the console already shows the same facts in another form (the
/// progress line's loss, the error printed by main()), and log.txt should hold them as lines.
#include <spdlog/common.h>

#include <string>

namespace gtgm::core {

/// Writes `text` at `level` to every log file sink (RUN_DIR/log.txt) and not to the console; a no-op
/// when no file is open or the level is below the logger's.
void log_to_files_only(spdlog::level::level_enum level, const std::string& text);

/// When an exception closed a run's log file (a ScopedLogFile destroyed during stack unwinding),
/// appends "error run failed: <message>" to that file, once; otherwise does nothing. main() calls
/// it with the line it prints, so that log.txt ends with the error of a failed run.
void record_error_in_failed_run_log(const std::string& message);

}  // namespace gtgm::core
