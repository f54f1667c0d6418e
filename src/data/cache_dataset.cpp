#include "gtgm/data/cache_dataset.h"

#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"

namespace gtgm::data {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json entry_json(const CacheEntry& e) {
  json fg = json::object();
  for (const auto& [k, locs] : e.fg) fg[std::to_string(k)] = locs;
  return {{"id", e.id},
          {"image", e.image},
          {"label", e.label},
          {"source_image", e.source_image},
          {"source_label", e.source_label},
          {"background", e.background},
          {"fg", fg}};
}

CacheEntry entry_of(const json& c) {
  CacheEntry e;
  e.id = c.at("id").get<std::string>();
  e.image = c.at("image").get<std::string>();
  e.label = c.at("label").get<std::string>();
  e.source_image = c.at("source_image").get<std::string>();
  e.source_label = c.at("source_label").get<std::string>();
  e.background = c.at("background").get<double>();
  for (const auto& [k, locs] : c.at("fg").items())
    e.fg[std::stoll(k)] = locs.get<std::vector<std::array<int64_t, 3>>>();
  return e;
}

}  // namespace

std::string cache_entry_to_json(const CacheEntry& e) { return entry_json(e).dump(); }

CacheEntry cache_entry_from_json(const std::string& text, const std::string& where) {
  try {
    return entry_of(json::parse(text));
  } catch (const json::exception& e) {
    GTGM_THROW("{}: malformed cache entry ({})", where, e.what());
  }
}

void write_cache_index(const fs::path& cache_dir, const std::vector<CacheEntry>& entries) {
  json cases = json::array();
  for (const auto& e : entries) cases.push_back(entry_json(e));
  json j{{"format", "gtgm-cache"}, {"version", 1}, {"cases", cases}};
  core::atomic_write_text(cache_dir / "cache.json", j.dump());
}

std::vector<CacheEntry> read_cache_index(const fs::path& cache_dir) {
  const auto path = cache_dir / "cache.json";
  GTGM_CHECK(fs::exists(path), "{}: no cache index; run `gtgm preprocess` first (data.cache_dir = {})", path.string(),
             cache_dir.string());
  json j;
  try {
    j = json::parse(core::read_text_file(path));
  } catch (const json::exception& e) {
    GTGM_THROW("{}: not valid JSON ({}); re-run `gtgm preprocess`", path.string(), e.what());
  }
  GTGM_CHECK(j.value("format", "") == "gtgm-cache" && j.value("version", 0) == 1,
             "{}: not a version-1 gtgm cache index; re-run `gtgm preprocess`", path.string());
  std::vector<CacheEntry> out;
  try {
    for (const auto& c : j.at("cases")) out.push_back(entry_of(c));
  } catch (const json::exception& e) {
    GTGM_THROW("{}: malformed case entry ({}); re-run `gtgm preprocess`", path.string(), e.what());
  }
  return out;
}

std::shared_ptr<const CacheDataset> CacheDataset::open(const fs::path& cache_dir, const std::vector<std::string>& ids,
                                                       bool need_labels) {
  auto ds = std::make_shared<CacheDataset>();
  ds->dir_ = cache_dir;
  const auto plan_path = cache_dir / "plan.json";
  GTGM_CHECK(fs::exists(plan_path), "{}: no plan; run `gtgm plan` and `gtgm preprocess` first", plan_path.string());
  ds->plan_ = Plan::from_json(core::read_text_file(plan_path), plan_path.string());
  auto entries = read_cache_index(cache_dir);
  std::vector<CacheEntry> chosen;
  if (ids.empty()) {
    chosen = std::move(entries);
  } else {
    std::map<std::string, size_t> by_id;
    for (size_t i = 0; i < entries.size(); ++i) by_id[entries[i].id] = i;
    for (const auto& id : ids) {
      const auto it = by_id.find(id);
      GTGM_CHECK(it != by_id.end(), "case '{}' is not in the cache {} ({} cases); re-run `gtgm preprocess`", id,
                 cache_dir.string(), entries.size());
      chosen.push_back(entries[it->second]);
    }
  }
  GTGM_CHECK(!chosen.empty(), "{}: the cache has no cases", cache_dir.string());
  for (auto& e : chosen) {
    CacheCase c;
    c.image = CachedArray::open(cache_dir / e.image);
    if (!e.label.empty()) {
      c.label = CachedArray::open(cache_dir / e.label);
      const auto& hi = c.image.header().shape;
      const auto& hl = c.label.header().shape;
      GTGM_CHECK(hl[0] == 1 && hl[1] == hi[1] && hl[2] == hi[2] && hl[3] == hi[3],
                 "case '{}': cached label [{}, {}, {}, {}] does not match image [{}, {}, {}, {}]", e.id, hl[0], hl[1],
                 hl[2], hl[3], hi[0], hi[1], hi[2], hi[3]);
    } else {
      GTGM_CHECK(!need_labels, "case '{}' has no label in the cache {}, but segmentation training needs labels", e.id,
                 cache_dir.string());
    }
    c.entry = std::move(e);
    ds->cases_.push_back(std::move(c));
  }
  return ds;
}

size_t CacheDataset::index_of(const std::string& id) const {
  for (size_t i = 0; i < cases_.size(); ++i) {
    if (cases_[i].entry.id == id) return i;
  }
  GTGM_THROW("case '{}' is not in the opened cache {}", id, dir_.string());
}

}  // namespace gtgm::data
