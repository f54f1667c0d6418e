#include "gtgm/core/error.h"

#include <string>

#ifndef GTGM_SOURCE_ROOT
#define GTGM_SOURCE_ROOT ""
#endif

namespace gtgm {

Error::Error(std::string message, std::string location, ErrorKind kind)
    : std::runtime_error(location.empty() ? message : message + " [" + location + "]"),
      message_(std::move(message)),
      location_(std::move(location)),
      kind_(kind) {}

namespace core::detail {

std::string source_location(const char* file, int line) {
  // Paths in messages are relative to the repository root, wherever the checkout lies (the build
  // maps the root away with -fmacro-prefix-map; this covers a compiler that does not).
  std::string path(file);
  const std::string root = GTGM_SOURCE_ROOT "/";
  if (root.size() > 1 && path.rfind(root, 0) == 0) path = path.substr(root.size());
  return path + ":" + std::to_string(line);
}

void throw_error(const char* file, int line, std::string message) {
  throw Error(std::move(message), source_location(file, line));
}

}  // namespace core::detail
}  // namespace gtgm
