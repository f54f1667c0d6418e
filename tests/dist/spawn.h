#pragma once
// Multi-process test harness: starts this test binary N times as ranks of a job (env RANK,
// WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT, GTGM_DIST_SCENARIO) running DistWorker.Run,
// with each rank's output in a log file.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace gtgm::test {

struct RankProcess {
  int rank = 0;
  pid_t pid = -1;
  std::filesystem::path log;
  int exit_code = -1;  // exit status, or 128 + signal
  bool finished = false;
  double seconds = 0;  // wall time until it finished
};

/// How the ranks learn their place: torchrun's variables or Slurm's (srun).
enum class LaunchStyle { Torchrun, Slurm };

/// Starts `world` ranks of scenario `scenario` (extra env added to every rank; per-rank env in
/// `per_rank`). Logs go to dir/rank<r>.log.
std::vector<RankProcess> start_ranks(int world, const std::string& scenario, const std::filesystem::path& dir,
                                     const std::map<std::string, std::string>& env = {},
                                     const std::map<int, std::map<std::string, std::string>>& per_rank = {},
                                     LaunchStyle style = LaunchStyle::Torchrun);

/// Waits for the processes until `timeout`; those still running afterwards stay unfinished.
void wait_ranks(std::vector<RankProcess>& ranks, std::chrono::milliseconds timeout);
/// Kills (SIGKILL) and reaps every unfinished process.
void kill_ranks(std::vector<RankProcess>& ranks);
/// The log of one rank.
std::string read_log(const RankProcess& p);
/// "rank r (exit e):\n<log tail>" for every rank, for failure messages.
std::string describe(const std::vector<RankProcess>& ranks);

}  // namespace gtgm::test
