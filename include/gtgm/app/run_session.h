#pragma once
/// The start of every training run (`gtgm pretrain`, `gtgm finetune`, each row of `gtgm eval`): one
/// sequence, so that every run dir gets the same log, header and resolved config.
#include <torch/torch.h>

#include <optional>
#include <string>

#include "gtgm/config/config.h"
#include "gtgm/core/dir_lock.h"
#include "gtgm/core/logging.h"
#include "gtgm/dist/context.h"

namespace gtgm::app {

/// Selects the device (run.device; LOCAL_RANK picks the GPU), forms the distributed context from
/// the launch environment (world 1: no rendezvous), sets log level, intra-op threads and the seed.
/// On rank 0 it creates run.dir and takes the run dir's lock (RUN_DIR/.gtgm.lock, an flock held
/// while the session lives and released by the kernel however the process ends): a second run on
/// the same dir (a `--resume` while the first still runs, a Slurm requeue racing the old job) is
/// refused naming the holder, before anything in the dir is touched. A fresh run (`resuming` false)
/// in a dir that already holds checkpoints is refused too. Then it sends the log to RUN_DIR/log.txt
/// while the session lives (only this run's lines, also inside `gtgm eval`), logs "gtgm <command>
/// <version>: <detail>run dir ..., N process(es), device D" and the resolved config, and writes
/// config.resolved.yaml.
class RunSession {
 public:
  RunSession(const config::Config& cfg, const std::string& command, bool resuming, const std::string& detail = "");
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  const torch::Device device;
  dist::Context ctx;

 private:
  core::DirLock lock_;  // declared first among the owned resources: released last
  std::optional<core::ScopedLogFile> log_file_;
};

}  // namespace gtgm::app
