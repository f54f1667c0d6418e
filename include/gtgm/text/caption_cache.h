#pragma once
/// The caption cache: captions of 2D slices at grid positions of each source volume, written once
/// by `gtgm caption` (or imported) and read by the pretraining loader, which takes the caption
/// nearest to a crop's centre.
///
/// Format (JSONL, UTF-8; docs/captions.md): line 1 is the header
///   {"format": "gtgm-captions", "version": 1}
/// then one record per line:
///   {"volume": "liver_3", "position": [z, y, x], "text": "...", "generator": "template",
///    "prompt_hash": "9f2c..."}
/// `position` is in voxels of the ORIGINAL source volume (tensor axes D, H, W), before any
/// resampling or cropping. Records are appended one line at a time (flushed and fsynced), so a
/// killed run loses nothing already written; a truncated last line is ignored with a warning.
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gtgm/config/text_config.h"

namespace gtgm::text {

/// Position (z, y, x) in voxels of the source volume.
using VoxelPosition = std::array<int64_t, 3>;  // the same type as io::VoxelPosition

struct CaptionRecord {
  std::string volume;        ///< volume (case) id, e.g. the image file name without extension
  VoxelPosition position{};  ///< (z, y, x) voxels of the source volume
  std::string text;
  std::string generator;    ///< "template", "openai:<model>", "import:gtgm-csv"
  std::string prompt_hash;  ///< hex hash of the prompt ("" when none)
};

/// What loading found beyond the records kept.
struct CaptionLoadStats {
  int64_t lines = 0;                ///< record lines read
  int64_t empty_text = 0;           ///< records dropped: empty or whitespace-only text
  int64_t duplicate_positions = 0;  ///< records replaced by a later record at the same (volume, position)
  bool truncated_last_line = false;
};

/// Cross-check of a cache against the dataset's volume ids.
struct CaptionCoverage {
  std::vector<std::string> unknown_volumes;  ///< in the cache, not in the dataset
  std::vector<std::string> uncaptioned;      ///< in the dataset, no caption
  int64_t unknown_records = 0;               ///< records of unknown volumes
};

class CaptionCache {
 public:
  CaptionCache() = default;
  /// Reads and validates a cache file. Bad JSON or a bad record (missing/mistyped field, position
  /// not 3 non-negative integers) throws naming the file and line; empty texts and duplicate
  /// positions are dropped / replaced (last wins) and counted in stats() with one warning each.
  static CaptionCache load(const std::filesystem::path& path);
  /// Builds a cache in memory (same validation as load, `source` names it in messages).
  static CaptionCache from_records(std::vector<CaptionRecord> records, const std::string& source = "captions");

  /// Index of the caption nearest to `position` in `volume` (squared distance in voxels scaled by
  /// `spacing_zyx`, ties -> earliest record). Throws when the volume has no caption.
  int64_t nearest(const std::string& volume, const VoxelPosition& position,
                  const std::array<double, 3>& spacing_zyx = {1.0, 1.0, 1.0}) const;
  const std::string& text(int64_t index) const;
  const CaptionRecord& record(int64_t index) const;
  const std::vector<CaptionRecord>& records() const { return records_; }
  int64_t size() const { return static_cast<int64_t>(records_.size()); }
  /// Volume ids with at least one caption (sorted).
  std::vector<std::string> volumes() const;
  const CaptionLoadStats& stats() const { return stats_; }
  const std::string& source() const { return source_; }

  /// A copy whose texts are what the text encoder sees: "<volume>, <text>" for
  /// config::CaptionPrefix::Volume (as the reference, data_provider_pretraining_caption_match.py:303),
  /// unchanged for None.
  CaptionCache with_prefix(config::CaptionPrefix prefix) const;

  /// Compares with the dataset's volume ids; logs a warning with counts; with `require_all`,
  /// uncaptioned dataset volumes throw (listing up to 10).
  CaptionCoverage check_coverage(const std::vector<std::string>& dataset_volumes, bool require_all) const;

 private:
  void index();
  std::vector<CaptionRecord> records_;
  std::map<std::string, std::vector<int64_t>> by_volume_;
  CaptionLoadStats stats_;
  std::string source_;
};

/// Appends records to a cache file: creates it with the header when missing or empty, checks the
/// header when it exists, and writes each record as one line followed by flush + fsync.
class CaptionWriter {
 public:
  explicit CaptionWriter(const std::filesystem::path& path);
  ~CaptionWriter();
  CaptionWriter(const CaptionWriter&) = delete;
  CaptionWriter& operator=(const CaptionWriter&) = delete;
  /// Thread-safe.
  void append(const CaptionRecord& record);
  /// "(volume, z, y, x)" keys already in the file (for resuming).
  const std::set<std::string>& done() const { return done_; }
  static std::string key(const std::string& volume, const VoxelPosition& p);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::set<std::string> done_;
  std::mutex mutex_;
};

/// CaptionCache::load(path).with_prefix(prefix): the captions as pretraining and `gtgm embed-text`
/// use them (text.caption_cache, text.caption_prefix).
CaptionCache load_caption_inputs(const std::filesystem::path& path, config::CaptionPrefix prefix);

/// One record as its JSONL line (no newline).
std::string caption_record_json(const CaptionRecord& r);
/// Stable 64-bit FNV-1a hash of a string as 16 hex digits (prompt hashes, embedding-cache keys).
std::string hash_hex(const std::string& s);
uint64_t hash64(const std::string& s);

/// Imports the GTGM reference code's per-volume caption CSV files as they are: every `*.csv` in
/// `folder`, in its subfolders (the reference's `<caption_path>/<dataset>/<volume>.csv`), or a
/// single .csv file is one volume, named after the file (extension and image extensions such as
/// .nii.gz stripped; the reference names it os.path.basename(image).split('.')[0]). Columns, any
/// order, case-insensitive, RFC 4180 quoting (pandas to_csv output):
///  - the reference's: an unnamed index column, `location` = a stringified [z, y, x] and
///    `description` (read by data_provider_pretraining_caption_match.py:300-302);
///  - or gtgm's: z, y, x and caption (or text).
/// The texts are stored without the "<volume>, " prefix (text.caption_prefix adds it on use).
/// Rows with empty captions are skipped and counted. Writes the JSONL cache to `out` atomically
/// and returns the number of records.
int64_t import_reference_csv(const std::filesystem::path& folder, const std::filesystem::path& out,
                             const std::string& generator = "import:gtgm-csv");

}  // namespace gtgm::text
