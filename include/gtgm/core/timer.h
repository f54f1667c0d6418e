#pragma once
/// Timers: a monotonic stopwatch and a scoped timer that logs its duration at debug level.
#include <chrono>
#include <string>

namespace gtgm::core {

/// Monotonic wall-clock stopwatch.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void reset() { start_ = std::chrono::steady_clock::now(); }
  /// Seconds since construction or the last reset().
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Logs "<name>: <ms> ms" at debug level when it goes out of scope; optionally adds the elapsed
/// seconds to `*accumulator` (for data-wait fractions and the like).
class ScopedTimer {
 public:
  explicit ScopedTimer(std::string name, double* accumulator = nullptr)
      : name_(std::move(name)), accumulator_(accumulator) {}
  ~ScopedTimer();
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  std::string name_;
  double* accumulator_;
  Stopwatch watch_;
};

}  // namespace gtgm::core
