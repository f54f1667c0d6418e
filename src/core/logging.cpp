#include "gtgm/core/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <exception>
#include <mutex>

#include "gtgm/core/error.h"
#include "gtgm/core/log_file_only.h"

namespace gtgm::core {
namespace {

struct LogState {
  std::shared_ptr<spdlog::logger> logger;
  int rank = 0;
  int world = 1;
  std::mutex mutex;
};

LogState& state() {
  static LogState s;
  static std::once_flag once;
  std::call_once(once, [] {
    LogState& st = s;
    // Log lines go to stderr so command output (tables, JSON) on stdout stays clean.
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    st.logger = std::make_shared<spdlog::logger>("gtgm", console);
    st.logger->set_pattern("[%H:%M:%S] %^%l%$ %v");
    st.logger->set_level(spdlog::level::info);
    st.logger->flush_on(spdlog::level::warn);
  });
  return s;
}

std::string pattern_for(int rank, int world) {
  if (world > 1) return fmt::format("[%H:%M:%S] [rank {}] %^%l%$ %v", rank);
  return "[%H:%M:%S] %^%l%$ %v";
}

}  // namespace

spdlog::level::level_enum parse_log_level(const std::string& name) {
  static const std::pair<const char*, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  for (const auto& [n, l] : kLevels) {
    if (name == n) return l;
  }
  throw ConfigError(fmt::format("unknown log level '{}'; expected one of: trace, debug, info, warn, error, off", name));
}

void set_log_level(const std::string& name) {
  const auto level = parse_log_level(name);
  auto& s = state();
  s.logger->set_level(level);
  for (auto& sink : s.logger->sinks()) sink->set_level(level);
}

void set_log_rank(int rank, int world_size) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.rank = rank;
  s.world = world_size;
  s.logger->set_pattern(pattern_for(rank, world_size));
}

int log_rank() { return state().rank; }

namespace {

// A log file that never takes the process down: a full disk, a quota or a vanished mount makes
// spdlog's file sink throw spdlog_ex from write or flush, and a flush outside the logger (or in a
// destructor) aborts the process. This sink catches every failure of the file, says so once on
// stderr and then drops file output; the console sink and the run (checkpoints, metrics) go on.
class GuardedFileSink final : public spdlog::sinks::sink {
 public:
  explicit GuardedFileSink(const std::filesystem::path& path)
      : path_(path.string()), file_(std::make_shared<spdlog::sinks::basic_file_sink_mt>(path_, /*truncate=*/false)) {}

  void log(const spdlog::details::log_msg& msg) override {
    if (!should_log(msg.level)) return;
    guarded([&] { file_->log(msg); });
  }
  void flush() override {
    guarded([&] { file_->flush(); });
  }
  void set_pattern(const std::string& pattern) override { file_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    file_->set_formatter(std::move(formatter));
  }
  bool failed() const { return failed_.load(); }
  const std::string& path() const { return path_; }

 private:
  template <class F>
  void guarded(F&& f) {
    if (failed_.load()) return;
    try {
      f();
    } catch (const std::exception& e) {
      fail(e.what());
    } catch (...) {
      fail("unknown error");
    }
  }
  void fail(const char* what) {
    if (failed_.exchange(true)) return;
    // Plain stdio: the logger is what just failed. One line, once per file.
    std::fprintf(stderr,
                 "gtgm: warning: cannot write the log file %s (%s); log lines from now on go to the console "
                 "only, the run goes on\n",
                 path_.c_str(), what);
    std::fflush(stderr);
  }

  std::string path_;
  std::shared_ptr<spdlog::sinks::basic_file_sink_mt> file_;
  std::atomic<bool> failed_{false};
};

spdlog::sink_ptr add_file_sink(const std::filesystem::path& path) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  auto sink = std::make_shared<GuardedFileSink>(path);
  sink->set_level(s.logger->level());
  s.logger->sinks().push_back(sink);
  s.logger->set_pattern(pattern_for(s.rank, s.world));
  return sink;
}
}  // namespace

void add_log_file(const std::filesystem::path& path) { add_file_sink(path); }

void log_to_files_only(spdlog::level::level_enum level, const std::string& text) {
  auto& s = state();
  if (!s.logger->should_log(level)) return;
  const spdlog::details::log_msg msg(s.logger->name(), level, text);
  for (auto& sink : s.logger->sinks()) {
    if (dynamic_cast<GuardedFileSink*>(sink.get()) != nullptr && sink->should_log(level)) sink->log(msg);
  }
}

ScopedLogFile::ScopedLogFile(const std::filesystem::path& path) : sink_(add_file_sink(path)) {}

namespace {
// The log file of the run that an exception just ended (guarded by LogState::mutex).
std::string& failed_run_log() {
  static std::string path;
  return path;
}
}  // namespace

ScopedLogFile::~ScopedLogFile() {
  if (!sink_) return;
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  // Closed by stack unwinding: main() (or the suite row that catches it) adds the error here.
  if (std::uncaught_exceptions() > 0) {
    if (const auto* file = dynamic_cast<const GuardedFileSink*>(sink_.get())) failed_run_log() = file->path();
  }
  sink_->flush();
  auto& sinks = s.logger->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
}

void remove_log_files() {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.logger->flush();
  auto& sinks = s.logger->sinks();
  sinks.erase(
      std::remove_if(sinks.begin(), sinks.end(),
                     [](const spdlog::sink_ptr& p) { return dynamic_cast<GuardedFileSink*>(p.get()) != nullptr; }),
      sinks.end());
}

spdlog::logger& logger() { return *state().logger; }

void record_error_in_failed_run_log(const std::string& message) {
  std::string path;
  {
    auto& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    path.swap(failed_run_log());
  }
  if (path.empty()) return;
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) return;  // the log's own failure was reported when it happened
  std::fprintf(f, "[%s] error run failed: %s\n", stamp, message.c_str());
  std::fclose(f);
}

}  // namespace gtgm::core
