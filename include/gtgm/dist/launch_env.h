#pragma once
/// The launch environment of a distributed job (torchrun or Slurm's srun) and Slurm hostlists.
/// Pure parsing, no torch: see dist/context.h for the rendezvous.
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gtgm::dist {

/// Where rank / world size / master came from.
enum class Launcher { None, Torchrun, Slurm };

/// The launch environment, parsed (no side effects). See read_launch_env.
struct LaunchEnv {
  Launcher launcher = Launcher::None;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;  // empty for a single process
  int master_port = 0;
  /// Which variables were read, for messages ("RANK/WORLD_SIZE (torchrun)").
  std::string source = "single process";
};

/// Reads a variable; returns nullopt when unset. Injectable so tests need not touch the real env.
using EnvGetter = std::function<std::optional<std::string>(const std::string&)>;
/// The process environment (std::getenv).
EnvGetter process_env();

/// Parses the launch environment:
/// - torchrun / manual: RANK, WORLD_SIZE, LOCAL_RANK (default 0), MASTER_ADDR, MASTER_PORT;
/// - Slurm (srun): SLURM_PROCID, SLURM_STEP_NUM_TASKS or SLURM_NTASKS, SLURM_LOCALID; master =
///   MASTER_ADDR or the first host of SLURM_STEP_NODELIST / SLURM_JOB_NODELIST / SLURM_NODELIST;
///   port = MASTER_PORT or 29500 + SLURM_JOB_ID % 1000;
/// - neither: a single process.
/// Throws ConfigError naming the variable and its value for malformed or inconsistent values.
LaunchEnv read_launch_env(const EnvGetter& env = process_env());

/// Expands a Slurm hostlist ("node[01-04,07],gpu-a[1-2]" -> node01 node02 node03 node04 node07
/// gpu-a1 gpu-a2; zero padding kept; several bracket groups per name allowed).
/// Throws ConfigError on unbalanced brackets, empty or reversed ranges.
std::vector<std::string> expand_hostlist(const std::string& hostlist);

}  // namespace gtgm::dist
