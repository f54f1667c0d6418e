#pragma once
/// Starting the ranks of a job on this machine as torchrun would: a free port for the rendezvous,
/// the environment each rank gets, process spawning and reaping. `gtgm bench dist` and the
/// multi-process tests both launch their ranks through this.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gtgm::dist {

/// A free TCP port on 127.0.0.1 (bound, read and released; another process could still take it).
/// Throws gtgm::Error when no socket can be bound.
int free_port();

/// This process's environment as name -> value.
std::map<std::string, std::string> current_environment();

/// Sets torchrun's variables for rank `rank` of `world` ranks on this machine with the master at
/// 127.0.0.1:`port`: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.
void set_torchrun_env(std::map<std::string, std::string>& env, int rank, int world, int port);

/// Starts the program at path `argv[0]` with arguments `argv` and exactly the environment `env`.
/// Its stdout goes to `output` when that is not empty (created or truncated; "/dev/null" silences
/// it), and stderr with it when `merge_stderr`. Returns the pid; throws gtgm::Error naming the
/// program and the error when it cannot be started.
pid_t spawn_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                    const std::filesystem::path& output = {}, bool merge_stderr = false);

/// Reaps `pid` when it has ended (waiting for it when `block`): its exit status, or 128 + the
/// signal that ended it; nullopt while it is still running.
std::optional<int> reap_process(pid_t pid, bool block);

}  // namespace gtgm::dist
