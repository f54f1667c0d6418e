#include "dist/spawn.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "gtgm/dist/local_launch.h"

namespace gtgm::test {

std::vector<RankProcess> start_ranks(int world, const std::string& scenario, const std::filesystem::path& dir,
                                     const std::map<std::string, std::string>& env,
                                     const std::map<int, std::map<std::string, std::string>>& per_rank,
                                     LaunchStyle style) {
  std::filesystem::create_directories(dir);
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const int port = dist::free_port();
  std::vector<RankProcess> out;
  for (int r = 0; r < world; ++r) {
    auto vars = dist::current_environment();
    // A clean launch environment: nothing inherited from an outer torchrun / Slurm job.
    for (const char* k : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
                          "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "SLURM_STEP_NODELIST",
                          "SLURM_JOB_NODELIST", "SLURM_NODELIST", "SLURM_JOB_ID", "GTEST_SHARD_INDEX",
                          "GTEST_TOTAL_SHARDS", "GTEST_OUTPUT"}) {
      vars.erase(k);
    }
    if (style == LaunchStyle::Torchrun) {
      dist::set_torchrun_env(vars, r, world, port);
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
    RankProcess p;
    p.rank = r;
    p.log = dir / ("rank" + std::to_string(r) + ".log");
    try {
      p.pid = dist::spawn_process({self, "--gtest_filter=DistWorker.Run"}, vars, p.log, /*merge_stderr=*/true);
    } catch (const std::exception& e) {
      ADD_FAILURE_AT(__FILE__, __LINE__) << e.what();
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
      if (const auto code = dist::reap_process(p.pid, /*block=*/false)) {
        p.finished = true;
        p.exit_code = *code;
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
    dist::reap_process(p.pid, /*block=*/true);
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
