// scripts/launch_local.sh: when the launcher itself is SIGKILLed (no chance to forward a signal),
// the kernel stops its ranks (setpriv --pdeathsig TERM) instead of leaving them to train forever.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "test_util.h"

namespace gtgm {
namespace {

// The children of `pid` (Linux /proc/<pid>/task/<pid>/children).
std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t c; in >> c;) out.push_back(c);
  return out;
}

// Gone, or a zombie waiting for a parent that does not reap (PID 1 in some containers).
bool is_gone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return true;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

bool wait_until(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return done();
}

TEST(LaunchLocal, RanksStopWhenTheLauncherIsKilled) {
  const std::string script = std::string(GTGM_SOURCE_ROOT) + "/scripts/launch_local.sh";
  const pid_t launcher = ::fork();
  ASSERT_GE(launcher, 0);
  if (launcher == 0) {
    ::execl("/bin/bash", "bash", script.c_str(), "2", "--", "sleep", "600", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Both ranks are running once setpriv has exec'd sleep in each.
  std::vector<pid_t> ranks;
  const bool started = wait_until(
      [&] {
        ranks = children_of(launcher);
        if (ranks.size() < 2) return false;
        for (pid_t r : ranks) {
          std::ifstream comm("/proc/" + std::to_string(r) + "/comm");
          std::string name;
          if (!std::getline(comm, name) || name != "sleep") return false;
        }
        return true;
      },
      std::chrono::seconds(60));
  ::kill(launcher, SIGKILL);
  ::waitpid(launcher, nullptr, 0);
  ASSERT_TRUE(started) << "the launcher did not start 2 ranks";
  for (pid_t r : ranks) {
    const bool gone = wait_until([r] { return is_gone(r); }, std::chrono::seconds(60));
    if (!gone) ::kill(r, SIGKILL);  // do not leave it behind either way
    EXPECT_TRUE(gone) << "rank pid " << r << " outlived its killed launcher";
  }
}

}  // namespace
}  // namespace gtgm
