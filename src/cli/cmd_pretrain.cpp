// `gtgm pretrain`: GTGM pretraining from a config, or continuing a run with --resume.
#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/app/run_pretrain.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"

namespace gtgm::cli {

void register_pretrain(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("pretrain", "Pretrain the image encoder with the GTGM objective (docs/pretraining.md)");
  auto opts = std::make_shared<ConfigOptions>();
  auto po = std::make_shared<app::PretrainOptions>();
  add_config_options(*cmd, *opts, false);
  cmd->add_option("--resume", po->resume,
                  "Continue RUN_DIR from its newest valid checkpoint (or a checkpoint dir); without --config the "
                  "checkpoint's own config is used. Only keys listed in docs/pretraining.md may differ.");
  cmd->add_option("--stop-after", po->stop_after, "Stop with a checkpoint after this many steps (then --resume)");
  cmd->callback([opts, po] {
    config::Config cfg;
    if (!po->resume.empty()) {
      std::vector<std::string> sets = opts->sets;
      if (!opts->log_level.empty()) sets.push_back("run.log_level=" + opts->log_level);
      cfg = app::resume_config(po->resume, opts->config, sets);
    } else {
      if (opts->config.empty()) throw ConfigError("gtgm pretrain: --config is required (or --resume RUN_DIR)");
      cfg = load_config(*opts);
    }
    const auto r = app::run_pretrain(cfg, *po);
    std::cout << fmt::format("gtgm pretrain: {} at step {} of {}{}\n",
                             r.interrupted ? "stopped (" + r.stop_reason + ")" : "finished", r.step, cfg.train.steps,
                             r.last_checkpoint.empty() ? "" : "; last checkpoint " + r.last_checkpoint.string());
  });
}

}  // namespace gtgm::cli
