// `gtgm plan`: fingerprint + plan into the cache dir; `--check` validates every case instead.
#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/core/error.h"
#include "gtgm/data/preprocess_dataset.h"

namespace gtgm::cli {

void register_plan(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "plan", "Fingerprint a dataset and plan spacing/patch size/normalisation; --check validates every case");
  auto opts = std::make_shared<ConfigOptions>();
  auto check = std::make_shared<bool>(false);
  add_config_options(*cmd, *opts, false);
  cmd->add_flag("--check", *check,
                "Read every case and report every problem (unreadable files, geometry mismatches, bad labels, "
                "NaN/Inf, ...) at once; exit 1 when there is any");
  cmd->callback([opts, check] {
    const auto cfg = load_config(*opts);
    if (*check) {
      const auto problems = data::check_dataset(cfg.data);
      if (!problems.empty()) {
        std::cout << io::format_problems(problems);
        throw Error(fmt::format("gtgm plan --check: {} problem(s) found in {}", problems.size(), cfg.data.root), "");
      }
      std::cout << "gtgm plan --check: every case of " << cfg.data.root << " passed\n";
      return;
    }
    const auto r = data::run_plan(cfg.data, cfg.run.seed);
    std::cout << r.plan.to_json() << "\n";
  });
}

}  // namespace gtgm::cli
