#pragma once
/// Errors: every failure in library code is a gtgm::Error thrown through GTGM_CHECK, with the
/// source location and a message naming the file / key / case / shape involved.
#include <fmt/format.h>

#include "gtgm/core/format.h"

#include <stdexcept>
#include <string>

namespace gtgm {

/// What kind of failure: decides the process exit code (runtime 1, usage/config 2).
enum class ErrorKind { Runtime, Usage };

/// The one exception type of gtgm. `what()` is "<message> [<file>:<line>]"; `message()` is the
/// message alone (what `main` prints to users).
class Error : public std::runtime_error {
 public:
  Error(std::string message, std::string location, ErrorKind kind = ErrorKind::Runtime);
  /// The message without the location.
  const std::string& message() const { return message_; }
  /// "src/area/file.cpp:123" (path relative to the source tree), or "" when unknown.
  const std::string& location() const { return location_; }
  ErrorKind kind() const { return kind_; }

 private:
  std::string message_;
  std::string location_;
  ErrorKind kind_;
};

/// A configuration or command-line mistake (exit code 2).
class ConfigError : public Error {
 public:
  explicit ConfigError(std::string message, std::string location = "")
      : Error(std::move(message), std::move(location), ErrorKind::Usage) {}
};

namespace core::detail {
/// Trims an absolute __FILE__ to the path inside the source tree ("src/core/x.cpp").
std::string source_location(const char* file, int line);
[[noreturn]] void throw_error(const char* file, int line, std::string message);
}  // namespace core::detail

}  // namespace gtgm

/// GTGM_CHECK(cond, "fmt format {}", args...): throws gtgm::Error with file:line when cond is false.
#define GTGM_CHECK(cond, ...)                                                        \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      ::gtgm::core::detail::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__)); \
    }                                                                                \
  } while (0)

/// GTGM_THROW("fmt format {}", args...): unconditional gtgm::Error.
#define GTGM_THROW(...) ::gtgm::core::detail::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__))
