#include "gtgm/data/preprocess_dataset.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/checksum.h"
#include "gtgm/core/dir_lock.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/progress.h"
#include "gtgm/core/strings.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/dataset_auto.h"
#include "gtgm/data/loader.h"
#include "gtgm/data/manifest.h"
#include "gtgm/data/preprocess.h"
#include "gtgm/io/hdf5_io.h"

namespace gtgm::data {

namespace fs = std::filesystem;

namespace {

int worker_count(const config::DataConfig& cfg, size_t cases) {
  const int w = cfg.preprocess.workers > 0 ? cfg.preprocess.workers : std::max(1, cfg.num_workers);
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(w), cases)));
}

/// Runs fn(i) for i in [0, n) on `workers` threads; returns "case: message" for every failure.
std::vector<std::string> parallel_cases(size_t n, int workers, const std::string& label,
                                        const std::function<void(size_t)>& fn,
                                        const std::function<std::string(size_t)>& name) {
  std::atomic<size_t> next{0}, done{0};
  std::mutex mutex;
  std::vector<std::pair<size_t, std::string>> failures;
  core::Progress progress(label, static_cast<int64_t>(n), "case");
  const auto work = [&] {
    if (workers > 1) limit_intraop_threads_of_this_thread();
    for (size_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (const Error& e) {
        std::lock_guard<std::mutex> lock(mutex);
        failures.emplace_back(i, e.message());
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        failures.emplace_back(i, e.what());
      }
      const size_t d = ++done;
      std::lock_guard<std::mutex> lock(mutex);
      progress.update(static_cast<int64_t>(d));
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  progress.finish();
  std::sort(failures.begin(), failures.end());
  std::vector<std::string> out;
  for (const auto& [i, msg] : failures) out.push_back(fmt::format("  [{}] {}", name(i), msg));
  return out;
}

[[noreturn]] void report_failures(const std::vector<std::string>& failures, size_t total, const std::string& what) {
  GTGM_THROW("{} failed for {} of {} case(s):\n{}", what, failures.size(), total, fmt::join(failures, "\n"));
}

/// Image + optional label of a case, with the geometry and label checks of io/checks.h.
std::pair<io::Volume, std::optional<io::Volume>> read_checked(const CaseEntry& c, const Manifest& m) {
  auto image = read_case_image(c);
  auto label = read_case_label(c);
  if (label) {
    io::check_same_geometry(image, *label);
    if (m.format != "cremi") io::check_labels(*label, m.label_values());
  }
  return {std::move(image), std::move(label)};
}

// What a cached case was built from: per source file its size, modification time and SHA-256,
// so that replacing an image or label after `preprocess` rebuilds that case instead of training on
// the stale cache. An HDF5 "file.h5:dataset" stamps the file; a DICOM folder stamps every file in it.
struct SourceStamp {
  std::string path;
  int64_t bytes = 0;
  int64_t mtime_ns = 0;
  std::string sha256;
};

std::vector<fs::path> source_files(const std::string& spec) {
  fs::path p = spec;
  if (auto h5 = io::split_hdf5_path(spec)) p = h5->first;
  if (!fs::is_directory(p)) return {p};
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(p))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Size and mtime of each file of a case (cheap); the hash is filled in only where needed.
std::vector<SourceStamp> stat_sources(const CaseEntry& c) {
  std::vector<std::string> specs = c.images;
  if (!c.label.empty()) specs.push_back(c.label);
  std::vector<SourceStamp> out;
  for (const auto& spec : specs) {
    for (const auto& f : source_files(spec)) {
      SourceStamp st;
      st.path = f.string();
      std::error_code ec;
      st.bytes = static_cast<int64_t>(fs::file_size(f, ec));
      if (ec) st.bytes = -1;
      const auto t = fs::last_write_time(f, ec);
      st.mtime_ns =
          ec ? -1
             : static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
      out.push_back(std::move(st));
    }
  }
  return out;
}

void hash_sources(std::vector<SourceStamp>& stamps) {
  for (auto& st : stamps)
    if (st.sha256.empty()) st.sha256 = core::sha256_file(st.path);
}

std::string stamps_to_json(const std::vector<SourceStamp>& stamps) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& st : stamps)
    j.push_back({{"path", st.path}, {"bytes", st.bytes}, {"mtime_ns", st.mtime_ns}, {"sha256", st.sha256}});
  return nlohmann::json{{"sources", j}}.dump();
}

std::vector<SourceStamp> stamps_from_json(const std::string& line) {
  std::vector<SourceStamp> out;
  const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("sources") || !j["sources"].is_array()) return out;
  for (const auto& e : j["sources"]) {
    if (!e.is_object()) return {};
    out.push_back(
        {e.value("path", ""), e.value("bytes", int64_t{-2}), e.value("mtime_ns", int64_t{-2}), e.value("sha256", "")});
  }
  return out;
}

// Whether the sources of a case are those recorded: the same files with the same size and mtime,
// or, where size or mtime differ (a copy, a touch), the same content. `now` gets the hashes it needed
// (and the recorded ones where size and mtime agree), ready to be recorded again.
bool sources_unchanged(const std::vector<SourceStamp>& recorded, std::vector<SourceStamp>& now, std::string& why) {
  if (recorded.size() != now.size()) {
    why = fmt::format("{} source file(s) recorded, {} now", recorded.size(), now.size());
    return false;
  }
  for (size_t i = 0; i < now.size(); ++i) {
    const auto& r = recorded[i];
    auto& n = now[i];
    if (r.path != n.path) {
      why = fmt::format("source {} is now {}", r.path, n.path);
      return false;
    }
    if (r.bytes == n.bytes && r.mtime_ns == n.mtime_ns && !r.sha256.empty()) {
      n.sha256 = r.sha256;
      continue;
    }
    if (r.bytes != n.bytes) {
      why = fmt::format("{} changed size ({} -> {} bytes)", n.path, r.bytes, n.bytes);
      return false;
    }
    n.sha256 = core::sha256_file(n.path);
    if (n.sha256 != r.sha256) {
      why = fmt::format("{} changed content (SHA-256 differs)", n.path);
      return false;
    }
  }
  return true;
}

}  // namespace

fs::path resolve_cache_dir(const config::DataConfig& cfg) {
  if (!cfg.cache_dir.empty()) return cfg.cache_dir;
  if (cfg.root.empty()) throw ConfigError("data.root is empty: set the dataset folder (and optionally data.cache_dir)");
  return fs::path(cfg.root) / "gtgm_cache";
}

std::vector<io::Problem> check_dataset(const config::DataConfig& cfg) {
  const auto m = load_manifest(cfg);
  // As plan and preprocess do: a dataset without training cases cannot pass a check.
  GTGM_CHECK(!m.training.empty(), "{}: the manifest lists no training cases (format {}); expected at least one",
             m.root.string(), config::to_string(cfg.format));
  io::DatasetCheckOptions o;
  o.num_threads = worker_count(cfg, m.training.size());
  GTGM_INFO("checking {} cases of {} ({} format) with {} threads", m.training.size(), m.root.string(), m.format,
            o.num_threads);
  return check_manifest(m, o);
}

PlanResult run_plan(const config::DataConfig& cfg_in, int64_t seed) {
  const auto m = load_manifest(cfg_in);
  const config::DataConfig cfg = with_modality_resolved(cfg_in, m);
  GTGM_CHECK(!m.training.empty(), "{}: the manifest lists no training cases to plan from", m.root.string());
  std::vector<CaseFingerprint> fps(m.training.size());
  const int workers = worker_count(cfg, m.training.size());
  const auto failures = parallel_cases(
      m.training.size(), workers, "plan",
      [&](size_t i) {
        const auto& c = m.training[i];
        auto [image, label] = read_checked(c, m);
        fps[i] =
            fingerprint_case(c.id, image, label ? &*label : nullptr, cfg.preprocess, static_cast<uint64_t>(seed) + i);
      },
      [&](size_t i) { return m.training[i].id; });
  if (!failures.empty()) report_failures(failures, m.training.size(), "planning (run `gtgm plan --check` for details)");
  PlanResult r;
  r.fingerprint = summarize_fingerprint(std::move(fps), cfg.preprocess);
  r.plan = make_plan(r.fingerprint, cfg);
  r.cache_dir = resolve_cache_dir(cfg);
  fs::create_directories(r.cache_dir);
  core::atomic_write_text(r.cache_dir / "fingerprint.json", r.fingerprint.to_json());
  core::atomic_write_text(r.cache_dir / "plan.json", r.plan.to_json());
  GTGM_INFO(
      "plan: {} cases, target spacing [{:.4g}, {:.4g}, {:.4g}], median shape [{}, {}, {}], patch [{}, {}, {}] -> {}",
      m.training.size(), r.plan.target_spacing[0], r.plan.target_spacing[1], r.plan.target_spacing[2],
      r.plan.median_shape[0], r.plan.median_shape[1], r.plan.median_shape[2], r.plan.patch_size[0],
      r.plan.patch_size[1], r.plan.patch_size[2], (r.cache_dir / "plan.json").string());
  return r;
}

PreprocessResult run_preprocess(const config::DataConfig& cfg_in, int64_t seed, bool force) {
  const auto m = load_manifest(cfg_in);
  const config::DataConfig cfg = with_modality_resolved(cfg_in, m);
  PreprocessResult r;
  r.cache_dir = resolve_cache_dir(cfg);
  core::create_dirs(r.cache_dir, "data.cache_dir");
  // One writer per cache: a second preprocess would build the same cases again and race on the
  // index; the kernel drops the lock of a killed run, so the next one takes over.
  const core::DirLock lock(r.cache_dir, "preprocess", "preprocess",
                           "wait for it to end: two preprocess runs on one cache would build the same cases twice "
                           "and race on cache.json (data.cache_dir)");
  if (!lock.previous_holder().empty())
    GTGM_INFO("preprocess: took over the lock of {} in {} (it ended without releasing it: killed?)",
              lock.previous_holder(), r.cache_dir.string());
  const auto plan_path = r.cache_dir / "plan.json";
  Plan plan;
  if (!fs::exists(plan_path)) {
    GTGM_INFO("no {} yet: planning first", plan_path.string());
    plan = run_plan(cfg, seed).plan;
  } else {
    plan = Plan::from_json(core::read_text_file(plan_path), plan_path.string());
    plan.check_matches(cfg, plan_path.string());
  }
  // The legacy FNV-1a basis: cache folders written so far carry this hash.
  const std::string plan_hash = fmt::format("{:016x}", core::fnv1a64(plan.to_json(), core::kFnv1a64LegacyBasis));
  GTGM_CHECK(!m.training.empty(), "{}: the manifest lists no cases to preprocess", m.root.string());
  fs::create_directories(r.cache_dir / "cases");
  // Temp files of a preprocess that was killed while writing (".<id>.gvol.tmp.<pid>.<n>", ...).
  const int stale = core::remove_stale_temp_files(r.cache_dir) + core::remove_stale_temp_files(r.cache_dir / "cases");
  if (stale > 0) GTGM_INFO("preprocess: removed {} temp file(s) left by a killed earlier run", stale);
  std::vector<CacheEntry> entries(m.training.size());
  std::atomic<int> written{0}, reused{0};
  const auto failures = parallel_cases(
      m.training.size(), worker_count(cfg, m.training.size()), "preprocess",
      [&](size_t i) {
        const auto& c = m.training[i];
        const auto meta = r.cache_dir / "cases" / (c.id + ".json");
        auto sources = stat_sources(c);
        if (!force && fs::exists(meta)) {
          // Reuse a case written for the same plan from the same sources whose arrays still open
          // cleanly. Meta file: plan hash, source stamps, cache entry (one line each; a meta file
          // without stamps, from an older gtgm, is rebuilt).
          const auto text = core::read_text_file(meta);
          const auto sep = text.find('\n');
          const auto sep2 = sep == std::string::npos ? sep : text.find('\n', sep + 1);
          std::string why;
          if (sep2 != std::string::npos && text.substr(0, sep) == plan_hash) {
            const auto recorded = stamps_from_json(text.substr(sep + 1, sep2 - sep - 1));
            if (!recorded.empty() && sources_unchanged(recorded, sources, why)) {
              auto e = cache_entry_from_json(text.substr(sep2 + 1), meta.string());
              read_cache_header(r.cache_dir / e.image);
              if (!e.label.empty()) read_cache_header(r.cache_dir / e.label);
              entries[i] = std::move(e);
              ++reused;
              return;
            }
            if (!why.empty()) GTGM_INFO("preprocess: case '{}' is rebuilt: {}", c.id, why);
          }
        }
        // Hash before reading, so a source replaced while this case is built is seen next time.
        hash_sources(sources);
        auto [image, label] = read_checked(c, m);
        const auto pc = preprocess_case(image, label ? &*label : nullptr, plan, static_cast<uint64_t>(seed) + i);
        auto e = write_cache_case(r.cache_dir, c.id, pc, plan, fmt::format("{}", fmt::join(c.images, ",")), c.label);
        core::atomic_write_text(meta, plan_hash + "\n" + stamps_to_json(sources) + "\n" + cache_entry_to_json(e));
        entries[i] = std::move(e);
        ++written;
      },
      [&](size_t i) { return m.training[i].id; });
  r.written = written;
  r.reused = reused;
  if (!failures.empty()) report_failures(failures, m.training.size(), "preprocessing");
  write_cache_index(r.cache_dir, entries);
  GTGM_INFO("preprocess: {} cases written, {} reused -> {}", r.written, r.reused, r.cache_dir.string());
  return r;
}

}  // namespace gtgm::data
