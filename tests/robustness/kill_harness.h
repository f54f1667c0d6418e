#pragma once
// Kill tests (#16): start the real `gtgm` binary, SIGKILL it at a chosen point, then check what it
// left and that a rerun completes with the result of an uninterrupted run.
//
// A kill point is either
//  - a fault point (core/fault_point.h, GTGM_FAULT_STOP="POINT[:FILE]@N"): the process stops
//    itself with SIGSTOP at the Nth time it reaches POINT (a partial write leaves half the data on
//    disk first), the harness sees the stop through waitpid(WUNTRACED) and sends SIGKILL; or
//  - an observed event: the harness polls a file the process writes (metrics rows, caption lines,
//    cache entries) and sends SIGKILL once it has seen the chosen progress; the process may be
//    anywhere after that point when the signal lands (or already finished, which is reported).
// Nothing waits a fixed time: every kill follows something the process did. Which event or which
// occurrence is drawn from a seeded generator (GTGM_KILL_SEED, default 16) so a failure replays.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "gtgm/core/atomic_file.h"
#include "gtgm/dist/local_launch.h"

namespace gtgm::test {

/// Where to kill: a fault point spec, or a predicate over the files the process writes.
struct KillPoint {
  std::string label;                ///< for messages ("early: metrics row 1")
  std::string fault;                ///< GTGM_FAULT_STOP value; empty: use `observed`
  std::function<bool()> observed;   ///< polled until true, then SIGKILL
};

/// How the killed run ended.
struct KillOutcome {
  bool killed = false;     ///< SIGKILL landed while it ran (false: it finished first)
  bool stopped = false;    ///< a fault point stopped it before the kill
  int exit_code = -1;      ///< exit status when it was not killed
  std::string output;      ///< its stdout + stderr
};

/// The seed of the kill-point choices (GTGM_KILL_SEED overrides 16).
inline uint64_t kill_seed() {
  const char* s = std::getenv("GTGM_KILL_SEED");
  return s != nullptr && *s != '\0' ? std::stoull(s) : 16;
}

/// A seeded draw in [lo, hi].
inline int draw(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

/// Runs `gtgm args...` (output to `log`) and kills it at `point`.
inline KillOutcome run_and_kill(const std::vector<std::string>& args, const KillPoint& point,
                                const std::filesystem::path& log) {
  std::vector<std::string> argv = {GTGM_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto env = dist::current_environment();
  env.erase("GTGM_FAULT_STOP");
  if (!point.fault.empty()) env["GTGM_FAULT_STOP"] = point.fault;
  const pid_t pid = dist::spawn_process(argv, env, log, /*merge_stderr=*/true);
  KillOutcome out;
  int status = 0;
  if (!point.fault.empty()) {
    // The process either stops at the fault point or ends without reaching it.
    while (::waitpid(pid, &status, WUNTRACED) < 0 && errno == EINTR) {
    }
    if (WIFSTOPPED(status)) {
      out.stopped = true;
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  } else {
    // Poll the observed files (a safety bound of 10 minutes only keeps a broken run from hanging CI).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    while (true) {
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      if (point.observed() || std::chrono::steady_clock::now() > give_up) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  out.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  out.output = std::filesystem::exists(log) ? core::read_text_file(log) : std::string();
  return out;
}

/// Temp files of atomic writes (".NAME.tmp.PID.N", ".NAME.tmpdir.PID.N", ".NAME.old.PID.N") and
/// of volume writes (".gtgm-tmp-PID-NAME") under `dir`, recursively.
inline std::vector<std::string> temp_files_under(const std::filesystem::path& dir) {
  static const std::regex kTemp(R"(\..+\.(tmp|tmpdir|old)\.\d+\.\d+|\.gtgm-tmp-\d+-.+)");
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (std::regex_match(it->path().filename().string(), kTemp)) out.push_back(it->path().string());
  }
  return out;
}

/// Lines of a text file (0 when it does not exist).
inline size_t count_lines(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return 0;
  const std::string text = core::read_text_file(file);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace gtgm::test
