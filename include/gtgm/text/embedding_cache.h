#pragma once
/// The text-embedding cache: one frozen-encoder embedding per caption of a caption cache, so the
/// text encoder runs once per caption instead of once per training step.
///
/// File: safetensors with
///   "embeddings"  F32 [N, dim]  row i = caption i of the caption cache
///   "text_hash"   I64 [N]       FNV-1a 64 of caption i's text (detects a stale/mismatched cache)
///   "done"        U8  [N]       1 where the row is computed (an interrupted `gtgm embed-text`
///                               leaves zeros; only complete caches load for training)
/// and metadata {"format": "gtgm-text-embeddings", "version": "1", "encoder": <describe()>,
/// "dim", "captions": <caption cache path>}.
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gtgm/text/caption_cache.h"

namespace gtgm::text {

class TextEncoder;

class EmbeddingCache {
 public:
  EmbeddingCache() = default;
  /// Loads a complete cache; throws naming the file for a wrong format/version, inconsistent
  /// shapes, or rows not computed yet (re-run `gtgm embed-text`).
  static EmbeddingCache load(const std::filesystem::path& path);
  /// Throws unless the cache has one row per caption with matching text hashes.
  void check_matches(const CaptionCache& captions) const;
  /// Rows of the given caption indices -> [B, dim] float (CPU).
  torch::Tensor lookup(const std::vector<int64_t>& caption_indices) const;
  int64_t size() const { return embeddings_.defined() ? embeddings_.size(0) : 0; }
  int64_t dim() const { return embeddings_.defined() ? embeddings_.size(1) : 0; }
  const torch::Tensor& embeddings() const { return embeddings_; }  ///< [N, dim]
  const torch::Tensor& text_hashes() const { return hashes_; }     ///< [N] int64
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  torch::Tensor embeddings_, hashes_;
  std::map<std::string, std::string> metadata_;
  std::string path_;
};

/// Writes a (possibly partial) cache atomically. embeddings [N, dim], text_hash [N] int64, done [N].
void save_embedding_cache(const std::filesystem::path& path, const torch::Tensor& embeddings,
                          const torch::Tensor& text_hash, const torch::Tensor& done,
                          std::map<std::string, std::string> metadata);

struct EmbedTextOptions {
  int batch_size = 64;
  /// Save progress every this many seconds (and at the end).
  double save_every_s = 30.0;
  /// Stop after computing this many new rows (tests of interruption; -1 = no limit).
  int64_t stop_after = -1;
};

struct EmbedTextResult {
  int64_t total = 0;     ///< captions
  int64_t reused = 0;    ///< rows taken from an existing cache with the same encoder and text
  int64_t computed = 0;  ///< rows computed now (identical texts are encoded once)
  bool complete = false;
};

/// Fills `out` with embeddings of every caption: reuses rows of an existing `out` written by the
/// same encoder (same describe()) for identical texts, encodes the rest in batches with a
/// progress line, saves periodically (atomic), so an interrupted run resumes where it stopped.
/// The encoder must be frozen.
EmbedTextResult embed_captions(TextEncoder& encoder, const CaptionCache& captions, const std::filesystem::path& out,
                               const EmbedTextOptions& options = {});

}  // namespace gtgm::text
