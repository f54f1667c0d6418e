#pragma once
/// Small string helpers used across areas: FNV-1a hashing, ASCII case folding, suffix tests and
/// the "[2, 1, 32, 64, 64]" text of a tensor shape.
#include <c10/util/ArrayRef.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gtgm::core {

/// FNV-1a 64 offset basis (0xcbf29ce484222325).
inline constexpr uint64_t kFnv1a64Basis = 14695981039346656037ull;
/// FNV-1a 64 prime.
inline constexpr uint64_t kFnv1a64Prime = 1099511628211ull;
/// The basis the preprocessing cache (header checksum, plan hash) and the synthetic datasets have
/// always used: the offset basis with its last digit dropped. Kept so existing caches stay valid and
/// synthetic data stays the same; do not use it for anything new.
inline constexpr uint64_t kFnv1a64LegacyBasis = 1469598103934665603ull;

/// FNV-1a 64 of `n` bytes at `data`, starting from `basis`.
uint64_t fnv1a64_bytes(const void* data, size_t n, uint64_t basis = kFnv1a64Basis);
/// FNV-1a 64 of the bytes of `s`, starting from `basis`.
inline uint64_t fnv1a64(std::string_view s, uint64_t basis = kFnv1a64Basis) {
  return fnv1a64_bytes(s.data(), s.size(), basis);
}

/// `s` with ASCII letters lower-cased (other bytes unchanged).
std::string lower(std::string s);
/// Whether `s` ends with `suffix`.
inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
/// Whether `s` starts with `prefix`.
inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

/// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view s);
/// `s` with every byte of an invalid UTF-8 sequence (and control characters) written as \xHH, for
/// naming a file whose name is not UTF-8 in a message.
std::string escape_bytes(std::string_view s);

/// A shape as "[2, 1, 32, 64, 64]" (a tensor's sizes(), or a std::vector<int64_t>).
std::string shape_str(c10::IntArrayRef sizes);

}  // namespace gtgm::core
