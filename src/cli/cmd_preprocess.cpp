// `gtgm preprocess`: resample and normalise every case into the cache (plans first if needed).
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/data/preprocess_dataset.h"

namespace gtgm::cli {

void register_preprocess(CLI::App& app) {
  auto* cmd = app.add_subcommand("preprocess", "Reorient, crop, normalise and resample a dataset into the cache");
  auto opts = std::make_shared<ConfigOptions>();
  auto force = std::make_shared<bool>(false);
  add_config_options(*cmd, *opts, false);
  cmd->add_flag("--force", *force, "Rewrite cases already preprocessed for the current plan");
  cmd->callback([opts, force] {
    const auto cfg = load_config(*opts);
    const auto r = data::run_preprocess(cfg.data, cfg.run.seed, *force);
    std::cout << fmt::format("gtgm preprocess: {} written, {} reused -> {}\n", r.written, r.reused,
                             r.cache_dir.string());
  });
}

}  // namespace gtgm::cli
