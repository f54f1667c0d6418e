#include "gtgm/text/embedding_cache.h"

#include <unordered_map>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/progress.h"
#include "gtgm/core/timer.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/text/text_encoder.h"

namespace fs = std::filesystem;

namespace gtgm::text {
namespace {

constexpr const char* kEmbeddingFormat = "gtgm-text-embeddings";
constexpr const char* kEmbeddingVersion = "1";

struct RawCache {
  torch::Tensor embeddings, hashes, done;
  std::map<std::string, std::string> meta;
};

RawCache read_raw(const fs::path& path) {
  RawCache c;
  std::map<std::string, torch::Tensor> t;
  for (auto& [k, v] : io::load_safetensors(path, &c.meta)) t[k] = v;
  GTGM_CHECK(c.meta.count("format") && c.meta.at("format") == kEmbeddingFormat,
             "{} is not a gtgm text-embedding cache (metadata format '{}', expected '{}')", path.string(),
             c.meta.count("format") ? c.meta.at("format") : "", kEmbeddingFormat);
  GTGM_CHECK(c.meta.count("version") && c.meta.at("version") == kEmbeddingVersion,
             "{}: text-embedding cache version '{}' is not supported (expected {})", path.string(),
             c.meta.count("version") ? c.meta.at("version") : "", kEmbeddingVersion);
  for (const char* k : {"embeddings", "text_hash", "done"})
    GTGM_CHECK(t.count(k), "{}: text-embedding cache has no '{}' tensor", path.string(), k);
  c.embeddings = t["embeddings"].to(torch::kFloat);
  c.hashes = t["text_hash"];
  c.done = t["done"];
  GTGM_CHECK(c.embeddings.dim() == 2, "{}: 'embeddings' must be [N, dim], got {} dims", path.string(),
             c.embeddings.dim());
  const int64_t n = c.embeddings.size(0);
  GTGM_CHECK(c.hashes.dim() == 1 && c.hashes.size(0) == n && c.hashes.scalar_type() == torch::kInt64,
             "{}: 'text_hash' must be int64 [{}]", path.string(), n);
  GTGM_CHECK(c.done.dim() == 1 && c.done.size(0) == n, "{}: 'done' must be [{}]", path.string(), n);
  return c;
}

// Rows marked done whose embedding holds NaN/Inf (a damaged or hand-edited file): [N] bool.
torch::Tensor non_finite_rows(const RawCache& c) {
  return c.done.to(torch::kBool) & torch::isfinite(c.embeddings).all(1).logical_not();
}

}  // namespace

EmbeddingCache EmbeddingCache::load(const fs::path& path) {
  auto raw = read_raw(path);
  const int64_t done = raw.done.to(torch::kLong).sum().item<int64_t>();
  GTGM_CHECK(done == raw.embeddings.size(0),
             "{}: text-embedding cache is incomplete ({} of {} rows computed); re-run `gtgm embed-text` to finish it",
             path.string(), done, raw.embeddings.size(0));
  // A NaN text embedding would turn every loss it meets into NaN, steps later and far from here.
  const auto bad = non_finite_rows(raw);
  const int64_t n_bad = bad.sum().item<int64_t>();
  GTGM_CHECK(n_bad == 0,
             "{}: text-embedding row {} holds NaN/Inf ({} of {} rows do); expected finite embeddings: re-run "
             "`gtgm embed-text`, which encodes such rows again",
             path.string(), n_bad ? bad.nonzero()[0][0].item<int64_t>() : -1, n_bad, raw.embeddings.size(0));
  EmbeddingCache c;
  c.embeddings_ = raw.embeddings;
  c.hashes_ = raw.hashes;
  c.metadata_ = std::move(raw.meta);
  c.path_ = path.string();
  return c;
}

void EmbeddingCache::check_matches(const CaptionCache& captions) const {
  GTGM_CHECK(size() == captions.size(),
             "{} holds {} embeddings but caption cache {} has {} captions; re-run `gtgm embed-text`", path_, size(),
             captions.source(), captions.size());
  const auto* h = hashes_.data_ptr<int64_t>();
  int64_t mismatches = 0, first = -1;
  for (int64_t i = 0; i < size(); ++i) {
    if (static_cast<uint64_t>(h[i]) != hash64(captions.text(i))) {
      ++mismatches;
      if (first < 0) first = i;
    }
  }
  GTGM_CHECK(mismatches == 0,
             "{}: {} embeddings do not match the texts of caption cache {} (first at row {}); the captions changed "
             "since `gtgm embed-text` ran: re-run it",
             path_, mismatches, captions.source(), first);
}

torch::Tensor EmbeddingCache::lookup(const std::vector<int64_t>& idx) const {
  for (int64_t i : idx)
    GTGM_CHECK(i >= 0 && i < size(), "embedding lookup: caption index {} out of range [0, {}) in {}", i, size(), path_);
  const auto index = torch::tensor(idx, torch::kLong);
  return embeddings_.index_select(0, index);  // [B, dim]
}

void save_embedding_cache(const fs::path& path, const torch::Tensor& embeddings, const torch::Tensor& text_hash,
                          const torch::Tensor& done, std::map<std::string, std::string> metadata) {
  metadata["format"] = kEmbeddingFormat;
  metadata["version"] = kEmbeddingVersion;
  metadata["dim"] = std::to_string(embeddings.size(1));
  io::save_safetensors(path,
                       {{"embeddings", embeddings.to(torch::kFloat)},
                        {"text_hash", text_hash.to(torch::kLong)},
                        {"done", done.to(torch::kUInt8)}},
                       metadata);
}

EmbedTextResult embed_captions(TextEncoder& encoder, const CaptionCache& captions, const fs::path& out,
                               const EmbedTextOptions& options) {
  GTGM_CHECK(encoder.frozen(),
             "embed-text needs a frozen text encoder (text.freeze_layers: -1); a trainable "
             "encoder's embeddings change during training and cannot be cached");
  GTGM_CHECK(options.batch_size >= 1, "embed-text batch size must be >= 1, got {}", options.batch_size);
  const int64_t n = captions.size();
  const int64_t dim = encoder.dim();
  const std::string encoder_id = encoder.describe();
  EmbedTextResult result;
  result.total = n;

  auto embeddings = torch::zeros({n, dim}, torch::kFloat);
  auto hashes = torch::empty({n}, torch::kLong);
  auto done = torch::zeros({n}, torch::kUInt8);
  auto* h = hashes.data_ptr<int64_t>();
  auto* d = done.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i) h[i] = static_cast<int64_t>(hash64(captions.text(i)));

  // Reuse rows of an existing cache computed by the same encoder, matched by text hash.
  std::error_code ec;
  if (fs::exists(out, ec)) {
    auto old = read_raw(out);
    const auto old_encoder = old.meta.count("encoder") ? old.meta.at("encoder") : "";
    if (old_encoder != encoder_id || old.embeddings.size(1) != dim) {
      GTGM_WARN("{} was computed by a different encoder ({}); recomputing every row", out.string(), old_encoder);
    } else {
      std::unordered_map<int64_t, int64_t> row_of;
      const auto* oh = old.hashes.data_ptr<int64_t>();
      // Rows holding NaN/Inf are not reused: they are encoded again.
      const auto od = (old.done.to(torch::kBool) & non_finite_rows(old).logical_not()).to(torch::kUInt8).contiguous();
      for (int64_t r = 0; r < old.hashes.size(0); ++r)
        if (od.data_ptr<uint8_t>()[r]) row_of.emplace(oh[r], r);
      for (int64_t i = 0; i < n; ++i) {
        const auto it = row_of.find(h[i]);
        if (it == row_of.end()) continue;
        embeddings[i].copy_(old.embeddings[it->second]);
        d[i] = 1;
        ++result.reused;
      }
    }
  }

  // Unique texts still to encode, each with the rows that share it.
  std::vector<int64_t> firsts;
  std::unordered_map<int64_t, std::vector<int64_t>> rows_of_hash;
  for (int64_t i = 0; i < n; ++i) {
    if (d[i]) continue;
    auto& rows = rows_of_hash[h[i]];
    if (rows.empty()) firsts.push_back(i);
    rows.push_back(i);
  }
  std::map<std::string, std::string> meta = {{"encoder", encoder_id}, {"captions", captions.source()}};
  GTGM_INFO("embed-text: {} captions, {} reused from {}, {} unique texts to encode", n, result.reused, out.string(),
            firsts.size());
  core::Progress progress("embed-text", static_cast<int64_t>(firsts.size()), "text");
  core::Stopwatch since_save;
  size_t pos = 0;
  bool stopped = false;
  while (pos < firsts.size()) {
    if (options.stop_after >= 0 && result.computed >= options.stop_after) {
      stopped = true;
      break;
    }
    const size_t end = std::min(firsts.size(), pos + static_cast<size_t>(options.batch_size));
    std::vector<std::string> texts;
    for (size_t k = pos; k < end; ++k) texts.push_back(captions.text(firsts[k]));
    const auto emb = encoder.encode(texts).detach().to(torch::kCPU, torch::kFloat);  // [b, dim]
    GTGM_CHECK(emb.size(0) == static_cast<int64_t>(texts.size()) && emb.size(1) == dim,
               "text encoder returned [{}, {}] for {} texts (expected dim {})", emb.size(0), emb.size(1), texts.size(),
               dim);
    GTGM_CHECK(torch::isfinite(emb).all().item<bool>(), "text encoder produced NaN/Inf for captions starting at row {}",
               firsts[pos]);
    for (size_t k = pos; k < end; ++k) {
      for (int64_t row : rows_of_hash[h[firsts[k]]]) {
        embeddings[row].copy_(emb[static_cast<int64_t>(k - pos)]);
        d[row] = 1;
      }
      ++result.computed;
    }
    pos = end;
    progress.update(static_cast<int64_t>(pos));
    if (since_save.seconds() >= options.save_every_s && pos < firsts.size()) {
      save_embedding_cache(out, embeddings, hashes, done, meta);
      since_save.reset();
    }
  }
  save_embedding_cache(out, embeddings, hashes, done, meta);
  result.complete = !stopped;
  if (!stopped) progress.finish();
  return result;
}

}  // namespace gtgm::text
