#include "dist/spawn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace gtgm::test {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::vector<RankProcess> start_ranks(int world, const std::string& scenario, const std::filesystem::path& dir,
                                     const std::map<std::string, std::string>& env,
                                     const std::map<int, std::map<std::string, std::string>>& per_rank,
                                     LaunchStyle style) {
  std::filesystem::create_directories(dir);
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const int port = free_port();
  std::vector<RankProcess> out;
  for (int r = 0; r < world; ++r) {
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv(*e);
      const auto eq = kv.find('=');
      if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    // A clean launch environment: nothing inherited from an outer torchrun / Slurm job.
    for (const char* k : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
                          "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "SLURM_STEP_NODELIST",
                          "SLURM_JOB_NODELIST", "SLURM_NODELIST", "SLURM_JOB_ID", "GTEST_SHARD_INDEX",
                          "GTEST_TOTAL_SHARDS", "GTEST_OUTPUT"}) {
      vars.erase(k);
    }
    if (style == LaunchStyle::Torchrun) {
      vars["RANK"] = std::to_string(r);
      vars["WORLD_SIZE"] = std::to_string(world);
      vars["LOCAL_RANK"] = std::to_string(r);
      vars["MASTER_ADDR"] = "127.0.0.1";
    } else {
      // srun's variables; the master comes from the (compressed) node list.
      vars["SLURM_PROCID"] = std::to_string(r);
      vars["SLURM_NTASKS"] = std::to_string(world);
      vars["SLURM_LOCALID"] = std::to_string(r);
      vars["SLURM_JOB_NODELIST"] = "localhost";
    }
    vars["MASTER_PORT"] = std::to_string(port);
    vars["GTGM_DIST_SCENARIO"] = scenario;
    vars["OMP_NUM_THREADS"] = "1";
    for (const auto& [k, v] : env) vars[k] = v;
    if (auto it = per_rank.find(r); it != per_rank.end()) {
      for (const auto& [k, v] : it->second) vars[k] = v;
    }
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : vars) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string arg0 = self, arg1 = "--gtest_filter=DistWorker.Run";
    char* argv[] = {arg0.data(), arg1.data(), nullptr};

    RankProcess p;
    p.rank = r;
    p.log = dir / ("rank" + std::to_string(r) + ".log");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, p.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&p.pid, self.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ADD_FAILURE_AT(__FILE__, __LINE__) << "posix_spawn failed: " << rc;
      p.finished = true;
    }
    out.push_back(p);
  }
  return out;
}

void wait_ranks(std::vector<RankProcess>& ranks, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    bool all = true;
    for (auto& p : ranks) {
      if (p.finished) continue;
      int status = 0;
      const pid_t w = ::waitpid(p.pid, &status, WNOHANG);
      if (w == p.pid) {
        p.finished = true;
        p.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      } else {
        all = false;
      }
    }
    if (all || std::chrono::steady_clock::now() - start > timeout) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void kill_ranks(std::vector<RankProcess>& ranks) {
  for (auto& p : ranks) {
    if (p.finished || p.pid <= 0) continue;
    ::kill(p.pid, SIGKILL);
    ::kill(p.pid, SIGCONT);  // a stopped process must run to die
    int status = 0;
    ::waitpid(p.pid, &status, 0);
    p.finished = true;
    p.exit_code = 128 + SIGKILL;
  }
}

std::string read_log(const RankProcess& p) {
  std::ifstream in(p.log);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string describe(const std::vector<RankProcess>& ranks) {
  std::string s;
  for (const auto& p : ranks) {
    std::string log = read_log(p);
    if (log.size() > 6000) log = "..." + log.substr(log.size() - 6000);
    s += "---- rank " + std::to_string(p.rank) + " (exit " + std::to_string(p.exit_code) + ", " +
         (p.finished ? "finished" : "still running") + "):\n" + log + "\n";
  }
  return s;
}

}  // namespace gtgm::test
