#pragma once
/// SHA-256 (FIPS 180-4) of byte strings and files: the checkpoint manifest records one per file so
/// a corrupted or partially copied checkpoint directory is detected before it is used.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace gtgm::train {

/// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  /// Feeds `n` bytes.
  void update(const void* data, std::size_t n);
  /// Finishes and returns the digest as 64 lowercase hex characters (the object is then spent).
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  std::size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

/// SHA-256 of a string, hex.
std::string sha256_hex(const std::string& bytes);
/// SHA-256 of a file's contents, hex; throws gtgm::Error naming the path when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace gtgm::train
