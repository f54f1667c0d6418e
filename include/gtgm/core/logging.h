#pragma once
/// Rank-aware logging on spdlog: a console sink always, `RUN_DIR/log.txt` once a run dir exists.
/// GTGM_INFO/GTGM_DEBUG print on rank 0 only; GTGM_WARN/GTGM_ERROR print on every rank, tagged.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <string>

namespace gtgm::core {

/// Parses "trace|debug|info|warn|error|off"; throws ConfigError naming the valid levels.
spdlog::level::level_enum parse_log_level(const std::string& name);
/// Sets the level of every sink.
void set_log_level(const std::string& name);
/// Tells the logger this process's rank and the world size (adds "[rank r]" when world > 1).
void set_log_rank(int rank, int world_size);
int log_rank();
/// Adds a file sink (appends). Only rank 0 should call it for RUN_DIR/log.txt.
void add_log_file(const std::filesystem::path& path);
/// Removes file sinks (tests, or when a run ends).
void remove_log_files();

/// A log file for the lifetime of this object: a run inside a longer process (each fine-tuning of
/// `gtgm eval`) logs to its own RUN_DIR/log.txt only while it runs. Default-constructed = no file
/// (ranks other than 0).
class ScopedLogFile {
 public:
  ScopedLogFile() = default;
  explicit ScopedLogFile(const std::filesystem::path& path);
  ~ScopedLogFile();
  ScopedLogFile(const ScopedLogFile&) = delete;
  ScopedLogFile& operator=(const ScopedLogFile&) = delete;

 private:
  spdlog::sink_ptr sink_;
};
/// The shared logger.
spdlog::logger& logger();

}  // namespace gtgm::core

#define GTGM_LOG_RANK0(level, ...)                                                     \
  do {                                                                                 \
    if (::gtgm::core::log_rank() == 0) ::gtgm::core::logger().log(level, __VA_ARGS__); \
  } while (0)
#define GTGM_LOG_ALL(level, ...) ::gtgm::core::logger().log(level, __VA_ARGS__)

#define GTGM_TRACE(...) GTGM_LOG_RANK0(::spdlog::level::trace, __VA_ARGS__)
#define GTGM_DEBUG(...) GTGM_LOG_RANK0(::spdlog::level::debug, __VA_ARGS__)
#define GTGM_INFO(...) GTGM_LOG_RANK0(::spdlog::level::info, __VA_ARGS__)
#define GTGM_WARN(...) GTGM_LOG_ALL(::spdlog::level::warn, __VA_ARGS__)
#define GTGM_ERROR(...) GTGM_LOG_ALL(::spdlog::level::err, __VA_ARGS__)
