#include "gtgm/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "gtgm/core/error.h"

namespace fs = std::filesystem;

namespace gtgm::core {
namespace {

fs::path temp_sibling(const fs::path& path, const char* tag) {
  static std::atomic<uint64_t> counter{0};
  return path.parent_path() /
         fmt::format(".{}.{}.{}.{}", path.filename().string(), tag, ::getpid(), counter.fetch_add(1));
}

void ensure_parent(const fs::path& path) {
  if (path.has_parent_path() && !path.parent_path().empty()) fs::create_directories(path.parent_path());
}

}  // namespace

void fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  GTGM_CHECK(fd >= 0, "cannot open {} to fsync: {}", path.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  GTGM_CHECK(rc == 0, "fsync of {} failed: {}", path.string(), std::strerror(err));
}

void atomic_write(const fs::path& path, const std::function<void(std::ostream&)>& writer) {
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
    fsync_path(tmp);
    fs::rename(tmp, path);
    fsync_path(path.has_parent_path() ? path.parent_path() : fs::path("."));
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
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
    for (const auto& entry : fs::recursive_directory_iterator(tmp)) {
      if (entry.is_regular_file()) fsync_path(entry.path());
    }
    fsync_path(tmp);
    // rename() cannot replace a non-empty directory: move the old one aside first, then drop it.
    const bool had_old = fs::exists(dir);
    if (had_old) fs::rename(dir, old);
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
