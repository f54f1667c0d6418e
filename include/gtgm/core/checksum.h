#pragma once
/// SHA-256 (FIPS 180-4) of byte strings and files: the checkpoint manifest records one per file so
/// a corrupted or partially copied checkpoint directory is detected before it is used. The digest
/// is libcrypto's (OpenSSL EVP). In core/ because the preprocessing cache also hashes its sources.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace gtgm::core {

/// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  /// Feeds `n` bytes.
  void update(const void* data, std::size_t n);
  /// Finishes and returns the digest as 64 lowercase hex characters (the object is then spent).
  std::string hex_digest();

 private:
  struct FreeCtx {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, FreeCtx> ctx_;
};

/// SHA-256 of a string, hex.
std::string sha256_hex(const std::string& bytes);
/// SHA-256 of a file's contents, hex; throws gtgm::Error naming the path when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace gtgm::core
