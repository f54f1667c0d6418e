#include "gtgm/core/error.h"

#include <cstring>

namespace gtgm {

Error::Error(std::string message, std::string location, ErrorKind kind)
    : std::runtime_error(location.empty() ? message : message + " [" + location + "]"),
      message_(std::move(message)),
      location_(std::move(location)),
      kind_(kind) {}

namespace core::detail {

std::string source_location(const char* file, int line) {
  std::string path(file);
  // Keep the part from the last top-level folder of the tree so messages do not leak build paths.
  for (const char* root : {"/src/", "/include/", "/tests/"}) {
    const auto pos = path.rfind(root);
    if (pos != std::string::npos) {
      path = path.substr(pos + 1);
      break;
    }
  }
  return path + ":" + std::to_string(line);
}

void throw_error(const char* file, int line, std::string message) {
  throw Error(std::move(message), source_location(file, line));
}

}  // namespace core::detail
}  // namespace gtgm
