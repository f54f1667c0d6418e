#pragma once
/// An exclusive lock on a folder that one gtgm process writes at a time (a run dir, a
/// preprocessing cache): DIR/.gtgm.lock, an flock taken without waiting and held while the object
/// lives. The kernel releases it however the process ends (SIGKILL, OOM), so the lock of a dead
/// process is taken over by the next one without any clean-up; the file holds who has it
/// ("gtgm COMMAND, pid P on HOST, since T") for the refusal message.
#include <filesystem>
#include <string>

namespace gtgm::core {

class DirLock {
 public:
  /// Locks `dir` (which must exist) for `command` ("pretrain", "preprocess"). When another process
  /// holds it, throws gtgm::Error: "<dir> is in use by another gtgm <kind> (<holder>); <why>".
  /// `kind` names the holder in the message ("run", "preprocess"); `why` says what interleaving
  /// would break.
  DirLock(const std::filesystem::path& dir, const std::string& command, const std::string& kind,
          const std::string& why);
  DirLock() = default;
  DirLock(DirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

  /// The holder line a previous process left that no longer holds the lock (it ended without
  /// removing it, e.g. killed); empty when there was none.
  const std::string& previous_holder() const { return previous_; }

 private:
  int fd_ = -1;
  std::string previous_;
};

/// The lock file of `dir`.
inline std::filesystem::path dir_lock_path(const std::filesystem::path& dir) { return dir / ".gtgm.lock"; }

}  // namespace gtgm::core
