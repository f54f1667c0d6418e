#pragma once
/// A progress line: percent, rate, ETA and a caller's extra text (e.g. the loss). On a TTY it
/// redraws one line; otherwise (logs, Slurm) it prints plain lines at most every `interval_s`.
#include <cstdint>
#include <cstdio>
#include <string>

#include "gtgm/core/timer.h"

namespace gtgm::core {

/// Whether `stream` is a terminal.
bool is_tty(std::FILE* stream);
/// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

class Progress {
 public:
  /// `total` units of work named `unit` ("step", "case"); prints to `out` on rank 0 only.
  Progress(std::string label, int64_t total, std::string unit = "it", std::FILE* out = stderr,
           double interval_s = 10.0);
  /// Sets the absolute count done (resume-friendly) and the extra text; prints when due.
  void update(int64_t done, const std::string& extra = "");
  /// Prints the final line.
  void finish(const std::string& extra = "");
  /// The line as it would be printed now (tests).
  std::string line(int64_t done, const std::string& extra) const;

 private:
  std::string label_, unit_;
  int64_t total_, start_count_ = -1, last_done_ = 0;
  std::FILE* out_;
  bool tty_;
  double interval_s_, last_print_ = -1e9;
  Stopwatch watch_;
};

}  // namespace gtgm::core
