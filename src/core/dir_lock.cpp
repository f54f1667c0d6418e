#include "gtgm/core/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "gtgm/core/error.h"

namespace gtgm::core {
namespace {

std::string read_holder(int fd) {
  std::string holder(512, '\0');
  const ssize_t n = ::pread(fd, holder.data(), holder.size(), 0);
  holder.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
  return holder;
}

}  // namespace

DirLock::DirLock(const std::filesystem::path& dir, const std::string& command, const std::string& kind,
                 const std::string& why) {
  const std::filesystem::path path = dir_lock_path(dir);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  GTGM_CHECK(fd >= 0, "{}: cannot open the lock file: {}", path.string(), std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = read_holder(fd);
    ::close(fd);
    GTGM_CHECK(err != EWOULDBLOCK, "{} is in use by another gtgm {} ({}); {}", dir.string(), kind,
               holder.empty() ? std::string("holder unknown") : holder, why);
    GTGM_THROW("{}: cannot lock: {}", path.string(), std::strerror(err));
  }
  fd_ = fd;
  // A holder line left behind is from a process that ended without releasing the lock cleanly
  // (killed): the kernel dropped its flock, so it is ours now.
  previous_ = read_holder(fd);
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  char since[32] = {0};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S UTC", &tm);
  const std::string who = fmt::format("gtgm {}, pid {} on {}, since {}\n", command, ::getpid(), host, since);
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, who.data(), who.size(), 0);
}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      (void)!::ftruncate(fd_, 0);
      ::close(fd_);
    }
    fd_ = other.fd_;
    previous_ = std::move(other.previous_);
    other.fd_ = -1;
  }
  return *this;
}

DirLock::~DirLock() {
  if (fd_ < 0) return;
  (void)!::ftruncate(fd_, 0);  // a clean end leaves no holder line: one left behind means a killed holder
  ::close(fd_);                // releases the flock
}

}  // namespace gtgm::core
