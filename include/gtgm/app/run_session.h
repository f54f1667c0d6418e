#pragma once
/// The start of every training run (`gtgm pretrain`, `gtgm finetune`, each row of `gtgm eval`): one
/// sequence, so that every run dir gets the same log, header and resolved config.
#include <torch/torch.h>

#include <optional>
#include <string>

#include "gtgm/config/config.h"
#include "gtgm/core/logging.h"
#include "gtgm/dist/context.h"

namespace gtgm::app {

/// Selects the device (run.device; LOCAL_RANK picks the GPU), forms the distributed context from
/// the launch environment (world 1: no rendezvous), sets log level, intra-op threads and the seed.
/// On rank 0 it creates run.dir, sends the log to RUN_DIR/log.txt while the session lives (only
/// this run's lines, also inside `gtgm eval`), logs "gtgm <command> <version>: <detail>run dir ...,
/// N process(es), device D" and the resolved config, and writes config.resolved.yaml.
class RunSession {
 public:
  RunSession(const config::Config& cfg, const std::string& command, const std::string& detail = "");
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  const torch::Device device;
  dist::Context ctx;

 private:
  std::optional<core::ScopedLogFile> log_file_;
};

}  // namespace gtgm::app
