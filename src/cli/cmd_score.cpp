// `gtgm score --pred PATH --ref PATH [--labels 1,2] [--metrics dice,hd95,nsd,voi,arand]`: scores
// predictions against references (files, or folders matched by case id); prints a table and writes
// summary.json. The work is infer::run_score.
#include <iostream>
#include <memory>

#include "commands.h"
#include "common.h"
#include "gtgm/core/logging.h"
#include "gtgm/infer/score.h"

namespace gtgm::cli {

void register_score(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("score", "Score prediction files/folders against references (Dice, HD95, NSD, VOI, ARAND)");
  auto opt = std::make_shared<infer::ScoreOptions>();
  auto pred = std::make_shared<std::string>();
  auto ref = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  auto log_level = std::make_shared<std::string>("info");
  cmd->add_option("--pred", *pred, "Prediction file or folder (HDF5: file.h5 or file.h5:dataset)")->required();
  cmd->add_option("--ref", *ref, "Reference file or folder; folders are matched by case id")->required();
  cmd->add_option("--labels", opt->labels,
                  "Classes for dice/hd95/nsd, e.g. 1,2 (default: every nonzero reference value)")
      ->delimiter(',');
  cmd->add_option("--metrics", opt->metrics, "Comma-separated: dice, hd95, nsd, voi, arand (default: dice)")
      ->delimiter(',');
  cmd->add_option("--nsd-tolerance", opt->nsd_tolerance, "Normalised surface Dice tolerance in mm (default 1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--both-empty-perfect", opt->both_empty_as_perfect,
                "Score a class absent from both prediction and reference as perfect (default: NaN, left out of means)");
  cmd->add_option("--ref-ignore", opt->ref_ignore, "Reference labels left out of voi/arand (default 0, as CREMI)")
      ->delimiter(',');
  cmd->add_option("-o,--output", *output, "summary.json path (default: inside the prediction folder)");
  cmd->add_option("--log-level", *log_level, "trace|debug|info|warn|error|off");
  cmd->callback([opt, pred, ref, output, log_level] {
    core::set_log_level(*log_level);
    opt->pred = *pred;
    opt->ref = *ref;
    opt->output = *output;
    const infer::ScoreSummary summary = infer::run_score(*opt);
    std::cout << infer::format_score_table(summary);
  });
}

}  // namespace gtgm::cli
