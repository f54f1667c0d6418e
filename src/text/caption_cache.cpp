#include "gtgm/text/caption_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/fault_point.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/strings.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace gtgm::text {
namespace {

constexpr const char* kFormat = "gtgm-captions";
constexpr int kVersion = 1;

std::string header_line() { return json{{"format", kFormat}, {"version", kVersion}}.dump(); }

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::string list_some(const std::vector<std::string>& v, size_t limit = 10) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < limit; ++i) out += (i ? ", " : "") + v[i];
  if (v.size() > limit) out += fmt::format(", ... ({} more)", v.size() - limit);
  return out;
}

void check_header(const std::string& line, const std::string& where) {
  json h;
  try {
    h = json::parse(line);
  } catch (const json::exception&) {
    GTGM_THROW("{}:1: not a gtgm caption cache (expected the header {})", where, header_line());
  }
  GTGM_CHECK(h.is_object() && h.value("format", "") == kFormat,
             "{}:1: not a gtgm caption cache (expected the header {}, found {})", where, header_line(), line.substr(0, 120));
  GTGM_CHECK(h.value("version", 0) == kVersion, "{}:1: caption cache version {} is not supported (this gtgm reads {})",
             where, h.value("version", 0), kVersion);
}

CaptionRecord parse_record(const std::string& line, const std::string& where) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {
    GTGM_THROW("{}: not valid JSON ({})", where, e.what());
  }
  GTGM_CHECK(j.is_object(), "{}: a record must be a JSON object", where);
  CaptionRecord r;
  auto str = [&](const char* key, std::string& out, bool required) {
    if (!j.contains(key)) {
      GTGM_CHECK(!required, "{}: record has no \"{}\"", where, key);
      return;
    }
    GTGM_CHECK(j[key].is_string(), "{}: \"{}\" must be a string, got {}", where, key, j[key].dump());
    out = j[key].get<std::string>();
  };
  str("volume", r.volume, true);
  str("text", r.text, true);
  str("generator", r.generator, false);
  str("prompt_hash", r.prompt_hash, false);
  GTGM_CHECK(!r.volume.empty(), "{}: empty \"volume\"", where);
  GTGM_CHECK(j.contains("position") && j["position"].is_array() && j["position"].size() == 3,
             "{}: \"position\" must be [z, y, x] (3 integers), got {}", where,
             j.contains("position") ? j["position"].dump() : "nothing");
  for (int a = 0; a < 3; ++a) {
    const auto& v = j["position"][a];
    GTGM_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0,
               "{}: \"position\" must be [z, y, x] (3 non-negative integers), got {}", where, j["position"].dump());
    r.position[a] = v.get<int64_t>();
  }
  return r;
}

}  // namespace

// ---- hashing / JSON -----------------------------------------------------------------------------

uint64_t hash64(const std::string& s) { return core::fnv1a64(s); }

std::string hash_hex(const std::string& s) { return fmt::format("{:016x}", hash64(s)); }

std::string caption_record_json(const CaptionRecord& r) {
  json j = {{"volume", r.volume},
            {"position", {r.position[0], r.position[1], r.position[2]}},
            {"text", r.text},
            {"generator", r.generator},
            {"prompt_hash", r.prompt_hash}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);  // invalid UTF-8 -> U+FFFD, never a throw
}

// ---- CaptionCache -------------------------------------------------------------------------------

CaptionCache CaptionCache::load(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  GTGM_CHECK(in.good(), "caption cache {} cannot be opened (run `gtgm caption` or set text.caption_cache)",
             path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  GTGM_CHECK(!data.empty(), "caption cache {} is empty", path.string());
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < data.size()) {
    const size_t nl = data.find('\n', start);
    lines.push_back(data.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  const bool ends_with_newline = data.back() == '\n';
  check_header(lines.at(0), path.string());
  std::vector<CaptionRecord> records;
  CaptionLoadStats stats;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (blank(lines[i])) continue;
    const std::string where = fmt::format("{}:{}", path.string(), i + 1);
    if (i + 1 == lines.size() && !ends_with_newline) {
      // A run killed mid-write leaves at most one partial line at the end.
      try {
        records.push_back(parse_record(lines[i], where));
      } catch (const Error&) {
        stats.truncated_last_line = true;
        GTGM_WARN("{}: ignoring a truncated last line (an interrupted run); re-running `gtgm caption` redoes it",
                  where);
        continue;
      }
    } else {
      records.push_back(parse_record(lines[i], where));
    }
    ++stats.lines;
  }
  auto cache = from_records(std::move(records), path.string());
  cache.stats_.lines = stats.lines;
  cache.stats_.truncated_last_line = stats.truncated_last_line;
  return cache;
}

CaptionCache CaptionCache::from_records(std::vector<CaptionRecord> records, const std::string& source) {
  CaptionCache c;
  c.source_ = source;
  c.stats_.lines = static_cast<int64_t>(records.size());
  std::map<std::string, size_t> slot;  // key -> index in c.records_ (last record wins)
  std::vector<std::string> dup_examples;
  for (auto& r : records) {
    if (blank(r.text)) {
      ++c.stats_.empty_text;
      continue;
    }
    const std::string key = CaptionWriter::key(r.volume, r.position);
    const auto it = slot.find(key);
    if (it != slot.end()) {
      ++c.stats_.duplicate_positions;
      if (dup_examples.size() < 3) dup_examples.push_back(key);
      c.records_[it->second] = std::move(r);
      continue;
    }
    slot[key] = c.records_.size();
    c.records_.push_back(std::move(r));
  }
  if (c.stats_.empty_text > 0)
    GTGM_WARN("{}: dropped {} captions with empty text", source, c.stats_.empty_text);
  if (c.stats_.duplicate_positions > 0)
    GTGM_WARN("{}: {} duplicate (volume, position) records; the last one of each is kept (e.g. {})", source,
              c.stats_.duplicate_positions, list_some(dup_examples));
  c.index();
  return c;
}

CaptionCache CaptionCache::with_prefix(config::CaptionPrefix prefix) const {
  CaptionCache c = *this;
  if (prefix == config::CaptionPrefix::Volume) {
    for (auto& r : c.records_) r.text = r.volume + ", " + r.text;
  }
  return c;
}

CaptionCache load_caption_inputs(const fs::path& path, config::CaptionPrefix prefix) {
  return CaptionCache::load(path).with_prefix(prefix);
}

void CaptionCache::index() {
  by_volume_.clear();
  for (size_t i = 0; i < records_.size(); ++i) by_volume_[records_[i].volume].push_back(static_cast<int64_t>(i));
}

int64_t CaptionCache::nearest(const std::string& volume, const VoxelPosition& p,
                              const std::array<double, 3>& spacing) const {
  const auto it = by_volume_.find(volume);
  GTGM_CHECK(it != by_volume_.end(), "caption cache {} has no caption for volume '{}' ({} volumes captioned)",
             source_, volume, by_volume_.size());
  int64_t best = -1;
  double best_d = std::numeric_limits<double>::infinity();
  for (int64_t idx : it->second) {
    const auto& q = records_[idx].position;
    double d = 0;
    for (int a = 0; a < 3; ++a) {
      const double diff = static_cast<double>(q[a] - p[a]) * spacing[a];
      d += diff * diff;
    }
    if (d < best_d) {
      best_d = d;
      best = idx;
    }
  }
  return best;
}

const CaptionRecord& CaptionCache::record(int64_t index) const {
  GTGM_CHECK(index >= 0 && index < size(), "caption index {} out of range [0, {}) in {}", index, size(), source_);
  return records_[index];
}

const std::string& CaptionCache::text(int64_t index) const { return record(index).text; }

std::vector<std::string> CaptionCache::volumes() const {
  std::vector<std::string> out;
  for (const auto& [v, _] : by_volume_) out.push_back(v);
  return out;
}

CaptionCoverage CaptionCache::check_coverage(const std::vector<std::string>& dataset_volumes, bool require_all) const {
  CaptionCoverage cov;
  const std::set<std::string> dataset(dataset_volumes.begin(), dataset_volumes.end());
  for (const auto& [v, idx] : by_volume_) {
    if (!dataset.count(v)) {
      cov.unknown_volumes.push_back(v);
      cov.unknown_records += static_cast<int64_t>(idx.size());
    }
  }
  for (const auto& v : dataset)
    if (!by_volume_.count(v)) cov.uncaptioned.push_back(v);
  if (!cov.unknown_volumes.empty())
    GTGM_WARN("{}: {} captions of {} volume ids not in the dataset are unused: {}", source_, cov.unknown_records,
              cov.unknown_volumes.size(), list_some(cov.unknown_volumes));
  if (!cov.uncaptioned.empty()) {
    const auto msg = fmt::format("{}: {} of {} dataset volumes have no caption: {}", source_, cov.uncaptioned.size(),
                                 dataset.size(), list_some(cov.uncaptioned));
    GTGM_CHECK(!require_all, "{} (run `gtgm caption` for them)", msg);
    GTGM_WARN("{}", msg);
  }
  return cov;
}

// ---- CaptionWriter ------------------------------------------------------------------------------

std::string CaptionWriter::key(const std::string& volume, const VoxelPosition& p) {
  return fmt::format("({}, {}, {}, {})", volume, p[0], p[1], p[2]);
}

CaptionWriter::CaptionWriter(const fs::path& path) : path_(path) {
  std::error_code ec;
  const bool exists = fs::exists(path, ec) && fs::file_size(path, ec) > 0;
  bool needs_newline = false;
  if (exists) {
    const auto existing = CaptionCache::load(path);  // validates the header and every complete record
    for (const auto& r : existing.records()) done_.insert(key(r.volume, r.position));
    const std::string data = core::read_text_file(path);
    if (existing.stats().truncated_last_line) {
      fs::resize_file(path, data.rfind('\n') + 1);  // drop the partial line; new records start fresh
    } else {
      needs_newline = data.back() != '\n';  // a complete last record without its newline
    }
  } else if (path.has_parent_path()) {
    fs::create_directories(path.parent_path());
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  GTGM_CHECK(fd_ >= 0, "cannot open caption cache {} for appending: {}", path.string(), std::strerror(errno));
  const std::string prefix = exists ? (needs_newline ? "\n" : "") : header_line() + "\n";
  if (!prefix.empty()) {
    GTGM_CHECK(::write(fd_, prefix.data(), prefix.size()) == static_cast<ssize_t>(prefix.size()),
               "writing {} failed: {}", path.string(), std::strerror(errno));
    ::fsync(fd_);
  }
}

CaptionWriter::~CaptionWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void CaptionWriter::append(const CaptionRecord& record) {
  const std::string line = caption_record_json(record) + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  // One write() of the whole line (O_APPEND), then fsync: a crash leaves whole lines, at most one partial.
  size_t written = 0;
  const bool partial = core::fault_hit("append.partial", path_.filename().string());
  const size_t end = partial ? line.size() / 2 : line.size();  // a kill midway through the write
  while (written < end) {
    const ssize_t n = ::write(fd_, line.data() + written, end - written);
    GTGM_CHECK(n > 0 || errno == EINTR, "appending to {} failed: {}", path_.string(), std::strerror(errno));
    if (n > 0) written += static_cast<size_t>(n);
  }
  GTGM_CHECK(::fsync(fd_) == 0, "fsync of {} failed: {}", path_.string(), std::strerror(errno));
  if (partial) core::fault_stop("append.partial", path_.filename().string());
  done_.insert(key(record.volume, record.position));
}

}  // namespace gtgm::text
