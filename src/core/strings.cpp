#include "gtgm/core/strings.h"

#include <fmt/format.h>

#include <cctype>

namespace gtgm::core {

uint64_t fnv1a64_bytes(const void* data, size_t n, uint64_t basis) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = basis;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnv1a64Prime;
  }
  return h;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string shape_str(c10::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

}  // namespace gtgm::core
