#include "gtgm/core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <vector>

#include "gtgm/core/error.h"
#include "gtgm/core/fault_point.h"

namespace fs = std::filesystem;

namespace gtgm::core {
namespace {

fs::path temp_sibling(const fs::path& path, const char* tag) {
  static std::atomic<uint64_t> counter{0};
  return path.parent_path() /
         fmt::format(".{}.{}.{}.{}", path.filename().string(), tag, ::getpid(), counter.fetch_add(1));
}

void ensure_parent(const fs::path& path) {
  if (path.has_parent_path() && !path.parent_path().empty())
    create_dirs(path.parent_path(), "folder of " + path.string());
}

}  // namespace

void create_dirs(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  // The first existing ancestor that is not a folder is what the user got wrong.
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    const auto st = fs::status(p, ec);
    if (ec && ec.value() == ELOOP)
      GTGM_THROW("{}: {} cannot be created: {} is a symlink loop (too many levels of symbolic links)", what,
                 dir.string(), p.string());
    if (fs::exists(st)) {
      GTGM_CHECK(fs::is_directory(st), "{}: {} cannot be created: {} is a file; expected a folder", what, dir.string(),
                 p.string());
      break;
    }
    if (p == p.parent_path()) break;
  }
  fs::create_directories(dir, ec);
  GTGM_CHECK(!ec, "{}: cannot create the folder {}: {}", what, dir.string(), ec.message());
}

void check_file_target(const fs::path& path, const std::string& what) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  GTGM_CHECK(!(ec && ec.value() == ELOOP), "{}: {} is a symlink loop (too many levels of symbolic links)", what,
             path.string());
  GTGM_CHECK(!fs::is_directory(st), "{}: {} is a folder; expected a file path", what, path.string());
}

void fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  GTGM_CHECK(fd >= 0, "cannot open {} to fsync: {}", path.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  GTGM_CHECK(rc == 0, "fsync of {} failed: {}", path.string(), std::strerror(err));
}

void atomic_write(const fs::path& path, const std::function<void(std::ostream&)>& writer) {
  check_file_target(path, "cannot write");
  ensure_parent(path);
  const fs::path tmp = temp_sibling(path, "tmp");
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      GTGM_CHECK(out.good(), "cannot create {}: {}", tmp.string(), std::strerror(errno));
      writer(out);
      out.flush();
      GTGM_CHECK(out.good(), "writing {} failed (disk full?)", path.string());
    }
    const std::string name = path.filename().string();
    if (fault_hit("write.partial", name)) {  // what a kill midway through the writer leaves
      fs::resize_file(tmp, fs::file_size(tmp) / 2);
      fault_stop("write.partial", name);
    }
    fsync_path(tmp);
    fault_point("write.before_rename", name);
    fs::rename(tmp, path);
    fsync_path(path.has_parent_path() ? path.parent_path() : fs::path("."));
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

int remove_stale_temp_files(const fs::path& dir) {
  static const std::regex kTemp(R"(\..+\.(tmp|tmpdir|old)\.(\d{1,10})\.\d+)");
  // io::write_volume's temp name (ITK picks the format by extension, so it keeps the name's end).
  static const std::regex kVolumeTemp(R"(\.gtgm-(tmp)-(\d{1,10})-.+)");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  std::vector<fs::path> entries;  // listed first: entries are renamed and removed below
  for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path());
  for (const fs::path& path : entries) {
    const std::string name = path.filename().string();
    std::smatch m;
    const bool ours = std::regex_match(name, m, kTemp);
    if (!ours && !std::regex_match(name, m, kVolumeTemp)) continue;
    const long long pid = std::stoll(m[2].str());
    // Still being written by a live process (on this host): leave it.
    if (pid > 0 && pid <= std::numeric_limits<pid_t>::max() &&
        (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM))
      continue;
    std::error_code rm;
    if (ours && m[1].str() == "old") {
      // atomic_write_dir was killed between moving the previous NAME aside and moving the new one
      // in: NAME is missing, and the previous version is the one to keep (the new one is dropped).
      const fs::path target = dir / name.substr(1, static_cast<size_t>(m.position(1)) - 2);
      if (!fs::exists(target, rm)) {
        fs::rename(path, target, rm);
        if (!rm) ++removed;
        continue;
      }
    }
    fs::remove_all(path, rm);
    if (!rm) ++removed;
  }
  return removed;
}

void atomic_write_text(const fs::path& path, const std::string& text) {
  atomic_write(path, [&](std::ostream& out) { out << text; });
}

void atomic_write_dir(const fs::path& dir, const std::function<void(const fs::path&)>& writer) {
  ensure_parent(dir);
  const fs::path tmp = temp_sibling(dir, "tmpdir");
  const fs::path old = temp_sibling(dir, "old");
  try {
    fs::create_directories(tmp);
    writer(tmp);
    const std::string name = dir.filename().string();
    if (fault_hit("dir.partial", name)) {  // a kill midway: the largest file half written
      fs::path largest;
      for (const auto& entry : fs::recursive_directory_iterator(tmp))
        if (entry.is_regular_file() && (largest.empty() || entry.file_size() > fs::file_size(largest)))
          largest = entry.path();
      if (!largest.empty()) fs::resize_file(largest, fs::file_size(largest) / 2);
      fault_stop("dir.partial", name);
    }
    for (const auto& entry : fs::recursive_directory_iterator(tmp)) {
      if (entry.is_regular_file() || entry.is_directory()) fsync_path(entry.path());
    }
    fsync_path(tmp);
    fault_point("dir.before_swap", name);
    // rename() cannot replace a non-empty directory: move the old one aside first, then drop it.
    // A kill between the two renames leaves only ".NAME.old.PID.N": remove_stale_temp_files puts
    // it back.
    const bool had_old = fs::exists(dir);
    if (had_old) fs::rename(dir, old);
    if (had_old) fault_point("dir.mid_swap", name);
    fs::rename(tmp, dir);
    fsync_path(dir.has_parent_path() ? dir.parent_path() : fs::path("."));
    if (had_old) fs::remove_all(old);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    if (!fs::exists(dir) && fs::exists(old)) fs::rename(old, dir, ec);
    throw;
  }
}

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  GTGM_CHECK(in.good(), "cannot read {}: {}", path.string(), fs::exists(path) ? std::strerror(errno) : "no such file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace gtgm::core
