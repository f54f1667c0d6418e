// `gtgm eval`: the evaluation suite (fine-tune, predict and score every dataset x label fraction x
// init of a suite config; report.md/csv/json with the paper's numbers beside ours).
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/app/finetune.h"
#include "gtgm/app/suite.h"
#include "gtgm/app/suite_comparisons.h"
#include "gtgm/config/suite_config.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"

namespace gtgm::cli {

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval",
      "Run an evaluation suite (configs/eval/*.yaml): fine-tune, predict and score each dataset, then write "
      "report.md/csv/json with the paper's numbers (docs/eval.md)");
  struct Args {
    std::string config, data_root, log_level;
    std::vector<std::string> sets, finetune_sets, only;
    bool dry_run = false, no_overlays = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("-c,--config", a->config, "Suite config, e.g. configs/eval/gtgm13.yaml")->required();
  cmd->add_option("--set", a->sets,
                  "Override a suite key: --set output_dir=runs/x, --set inits.gtgm=RUN_DIR (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--finetune-set", a->finetune_sets,
                  "Override a key of every fine-tuning config: --finetune-set run.device=cuda (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--data-root", a->data_root, "Data root (beats $GTGM_DATA_ROOT and the file's data_root)");
  cmd->add_option("--only", a->only, "Datasets to run, comma-separated (e.g. Task03_Liver,CREMI_A)")->delimiter(',');
  cmd->add_flag("--dry-run", a->dry_run, "List what would run, be reused or resumed, and which data is missing");
  cmd->add_flag("--no-overlays", a->no_overlays, "Do not render overlay PNGs");
  cmd->add_option("--log-level", a->log_level, "trace|debug|info|warn|error|off");
  cmd->callback([a] {
    if (!a->log_level.empty()) core::set_log_level(a->log_level);
    config::SuiteConfig suite = config::load_suite_config(a->config, a->sets, a->data_root);
    suite.sets.insert(suite.sets.end(), a->finetune_sets.begin(), a->finetune_sets.end());
    app::SuiteRunOptions o;
    o.runner = [](const config::Config& cfg, const app::FinetuneOptions& fo) { return app::run_finetune(cfg, fo); };
    o.only = a->only;
    o.dry_run = a->dry_run;
    o.overlays = !a->no_overlays;
    const auto result = app::run_suite(suite, o);
    if (a->dry_run) {
      std::cout << fmt::format("gtgm eval --dry-run: {} (data root {} from {}; output {})\n", suite.name,
                               suite.data_root, suite.data_root_source, suite.output_dir);
      size_t missing = 0, to_run = 0;
      for (const auto& r : result.rows) {
        std::cout << fmt::format("  {:<22} {:>6}  {:<10} {:<13} {}\n", r.dataset, r.fraction_label, r.init,
                                 config::to_string(r.status), r.message.empty() ? r.run_dir : r.message);
        missing += r.status == app::RowStatus::DataMissing;
        to_run += r.status == app::RowStatus::WouldRun || r.status == app::RowStatus::WouldResume;
      }
      std::cout << fmt::format("{} run(s) to do, {} with data missing, {} in all\n\n", to_run, missing,
                               result.rows.size())
                << app::paper_comparisons(suite);
      return;
    }
    std::cout << "\n" << result.table << "\n";
    std::cout << fmt::format("wrote {}\n      {}\n      {}\n", result.report_md.string(), result.report_csv.string(),
                             result.report_json.string());
    size_t failed = 0, interrupted = 0;
    for (const auto& r : result.rows) {
      failed += r.status == app::RowStatus::Failed;
      interrupted += r.status == app::RowStatus::Interrupted;
    }
    if (interrupted > 0)
      throw Error(fmt::format("gtgm eval: interrupted; the report lists what finished; run the same command again to "
                              "resume"),
                  "");
    if (failed > 0)
      throw Error(fmt::format("gtgm eval: {} of {} run(s) failed (their errors are in the Notes column of {})", failed,
                              result.rows.size(), result.report_md.string()),
                  "");
  });
}

}  // namespace gtgm::cli
