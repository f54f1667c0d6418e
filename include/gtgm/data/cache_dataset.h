#pragma once
/// The preprocessing cache directory:
///   plan.json         the plan (plan.h)
///   fingerprint.json  the dataset fingerprint
///   cache.json        index: one entry per case (ids, files, sources, foreground locations)
///   cases/<id>.gvol, cases/<id>_seg.gvol   image and label arrays (cache_format.h)
/// and the read side that loaders use: every array memory-mapped once, shared by all workers.
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtgm/data/cache_format.h"
#include "gtgm/data/plan.h"

namespace gtgm::data {

/// One case's entry in cache.json.
struct CacheEntry {
  std::string id;
  std::string image;         ///< path relative to the cache dir
  std::string label;         ///< "" when the case has no label
  std::string source_image;  ///< the original file(s), for reports and restore_to_source
  std::string source_label;
  double background = 0.0;  ///< padding value for crops (the case's minimum after normalisation)
  /// Sampled foreground voxel positions (d, h, w) in cache space, per label value (or the single
  /// key 1 for instance labels).
  std::map<int64_t, std::vector<std::array<int64_t, 3>>> fg;
};

/// One entry as JSON (the element of cache.json's "cases"), and back (throws naming `where`).
std::string cache_entry_to_json(const CacheEntry& e);
CacheEntry cache_entry_from_json(const std::string& text, const std::string& where);

/// Writes cache.json atomically.
void write_cache_index(const std::filesystem::path& cache_dir, const std::vector<CacheEntry>& entries);
/// Reads cache.json, checking its format/version.
std::vector<CacheEntry> read_cache_index(const std::filesystem::path& cache_dir);

/// One opened case.
struct CacheCase {
  CacheEntry entry;
  CachedArray image;  ///< [C, D, H, W]
  CachedArray label;  ///< [1, D, H, W] or invalid
};

/// An opened cache: plan + memory-mapped cases (all or a subset by id). Immutable, so loader
/// workers share it without locks.
class CacheDataset {
 public:
  /// Opens `cache_dir`; `ids` selects cases (in that order; every id must exist), empty = all.
  /// `need_labels` refuses cases without a label.
  static std::shared_ptr<const CacheDataset> open(const std::filesystem::path& cache_dir,
                                                  const std::vector<std::string>& ids = {}, bool need_labels = false);

  const Plan& plan() const { return plan_; }
  const std::filesystem::path& dir() const { return dir_; }
  size_t size() const { return cases_.size(); }
  const CacheCase& at(size_t i) const { return cases_.at(i); }
  /// Index of a case id; throws naming the id when absent.
  size_t index_of(const std::string& id) const;

 private:
  std::filesystem::path dir_;
  Plan plan_;
  std::vector<CacheCase> cases_;
};

}  // namespace gtgm::data
