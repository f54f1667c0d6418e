// `gtgm probe RUN_DIR --config CFG [--json]`: retrieval, linear probe and collapse checks of a
// pretrained encoder beside a random one (app::run_probe; docs/probe.md).
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/app/probe.h"
#include "gtgm/core/device.h"

namespace gtgm::cli {

void register_probe(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "probe",
      "Diagnose a pretrained encoder beside a random one: image<->text retrieval, linear probe of crop labels, "
      "effective rank and per-dimension spread (collapse check)");
  struct Args {
    ConfigOptions config;
    std::string run_dir;
    app::ProbeOptions probe;
    int64_t seed = -1;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("run_dir", a->run_dir, "Pretraining run dir (its latest valid checkpoint) or checkpoint dir")
      ->required();
  add_config_options(*cmd, a->config, true);
  cmd->add_option("--crops", a->probe.crops, "Crops drawn from the config's preprocessing cache (default 128)")
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 20));
  cmd->add_option("--seed", a->seed, "Seed of the crops and the probe's train/test split (default run.seed + 1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--probe-steps", a->probe.probe_steps, "L-BFGS iterations of the linear probe (default 300)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--train-fraction", a->probe.train_fraction,
                  "Fraction of the crops that train the linear probe; the rest test it (default 0.5)")
      ->check(CLI::Range(0.01, 0.99));
  cmd->add_flag("--json", a->json, "Print the report as JSON (schema gtgm-probe/1) instead of a table");
  cmd->callback([a] {
    const auto cfg = load_config(a->config);
    core::set_num_threads(cfg.run.threads);
    if (a->seed >= 0) a->probe.seed = a->seed;
    const auto report = app::run_probe(a->run_dir, cfg, a->probe);
    if (a->json)
      std::cout << app::probe_json(report).dump(2) << "\n";
    else
      std::cout << app::format_probe_text(report);
  });
}

}  // namespace gtgm::cli
