#pragma once
/// The distributed context of this process: rank, world size, local rank, device and (when the
/// world has more than one process) a c10d process group (Gloo on CPU, NCCL on CUDA) created from
/// torchrun's or Slurm's environment. A single process needs no rendezvous at all: its context
/// has world_size 1 and no group, and every collective is the identity.
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>

#include "gtgm/config/dist_config.h"
#include "gtgm/dist/launch_env.h"

namespace gtgm::dist {

class ProcessGroup;  // src/dist/process_group.h: the c10d backend + failure diagnosis

/// This process's place in the job. Copies share the process group; the group is shut down
/// when the last copy goes away (each rank then tells the others it left, so a rank that ends
/// early is reported as such, not as a hang).
class Context {
 public:
  /// A single-process context on `device` (no group).
  explicit Context(torch::Device device = torch::kCPU);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }
  /// The device this rank computes on (cuda:local_rank for NCCL).
  const torch::Device& device() const { return device_; }
  /// "none" (single process), "gloo" or "nccl".
  const std::string& backend() const { return backend_; }
  /// The collective / rendezvous timeout.
  std::chrono::milliseconds timeout() const { return timeout_; }
  /// world_size > 1.
  bool distributed() const { return world_size_ > 1; }
  bool is_rank0() const { return rank_ == 0; }
  /// The c10d group wrapper, null for a single process.
  ProcessGroup* group() const { return group_.get(); }
  /// The device collectives run on: CPU for Gloo, the CUDA device for NCCL.
  torch::Device comm_device() const;

 private:
  friend Context init_from_env(const config::DistConfig&, torch::Device, const EnvGetter&);
  friend Context make_context(const LaunchEnv&, const config::DistConfig&, torch::Device);
  friend Context global();
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  torch::Device device_ = torch::kCPU;
  std::string backend_ = "none";
  std::chrono::milliseconds timeout_{600000};
  std::shared_ptr<ProcessGroup> group_;
};

/// Creates this process's context from the launch environment (read_launch_env): world 1 ->
/// no rendezvous; otherwise TCPStore at MASTER_ADDR:MASTER_PORT (hosted by rank 0) and a Gloo
/// (CPU) or NCCL (CUDA, device cuda:LOCAL_RANK) process group with `cfg.timeout_s`. Also makes
/// it the process-wide context (global()) and tags log lines with the rank.
/// Throws ConfigError for a bad environment or backend choice, gtgm::Error when the rendezvous
/// fails (naming MASTER_ADDR:MASTER_PORT and the timeout).
Context init_from_env(const config::DistConfig& cfg, torch::Device device,
                      const EnvGetter& env = process_env());

/// Same from an already parsed environment.
Context make_context(const LaunchEnv& launch, const config::DistConfig& cfg, torch::Device device);

/// The process-wide context: the last one init_from_env made while any copy of it is alive,
/// else a single-process CPU context.
Context global();
/// Rank / world size of the process-wide context (0 / 1 before init_from_env). Rank 0 alone
/// writes logs, metrics and checkpoints.
int rank();
int world_size();
bool is_rank0();

}  // namespace gtgm::dist
