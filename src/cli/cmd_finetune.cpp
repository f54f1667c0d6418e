// `gtgm finetune`: segmentation (MSD) or EM affinity (CREMI) fine-tuning of one dataset, then
// prediction and scoring of its held-out cases (docs/finetuning.md).
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/app/finetune.h"
#include "gtgm/app/run_pretrain.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"

namespace gtgm::cli {

namespace {

struct FinetuneCliOptions {
  app::FinetuneOptions run;
  double label_fraction = -1;
  bool no_predict = false;
  std::string fold;  ///< "", a fold number or "all"
};

std::string metrics_text(const std::map<std::string, double>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += fmt::format("{}{} {:.4f}", s.empty() ? "" : ", ", k, v);
  return s.empty() ? "no metrics" : s;
}

}  // namespace

void register_finetune(CLI::App& app) {
  auto* cmd = app.add_subcommand("finetune",
                                 "Fine-tune a segmentation model on one dataset, then predict and score its held-out "
                                 "cases (docs/finetuning.md)");
  auto opts = std::make_shared<ConfigOptions>();
  auto fo = std::make_shared<FinetuneCliOptions>();
  add_config_options(*cmd, *opts, false);
  cmd->add_option("--pretrained", fo->run.pretrained,
                  "Encoder weights: a pretraining run dir (its best checkpoint), a checkpoint dir, a `gtgm export` "
                  "dir, an encoder .safetensors file or a torch.save'd dict such as the export's encoder.pt (sets "
                  "train.init; omitted = train.init, empty = random init)");
  cmd->add_option("--label-fraction", fo->label_fraction,
                  "Fraction of the training part with labels (paper: 0.01, 0.1, 1; sets data.label_fraction)");
  cmd->add_option("--resume", fo->run.resume,
                  "Continue RUN_DIR from its newest valid checkpoint (or a checkpoint dir); without --config the "
                  "checkpoint's own config is used");
  cmd->add_option("--stop-after", fo->run.stop_after, "Stop with a checkpoint after this many steps (then --resume)");
  cmd->add_option("--fold", fo->fold,
                  "k-fold cross-validation: a fold 0..data.num_folds-1 (sets data.fold), or `all` = every fold in "
                  "RUN_DIR/fold_<k> (run it again to resume; `gtgm predict -m RUN_DIR` ensembles them)");
  cmd->add_flag("--no-predict", fo->no_predict, "Train only: skip prediction and scoring of the held-out cases");
  cmd->callback([opts, fo] {
    std::vector<std::string> sets = opts->sets;
    if (fo->label_fraction >= 0) sets.push_back(fmt::format("data.label_fraction={}", fo->label_fraction));
    const bool all_folds = fo->fold == "all";
    if (!fo->fold.empty() && !all_folds) {
      if (fo->fold.find_first_not_of("0123456789") != std::string::npos || fo->fold.size() > 4)
        throw ConfigError(fmt::format("gtgm finetune: --fold {}: expected a fold number or `all`", fo->fold));
      sets.push_back("data.fold=" + fo->fold);
    }
    if (all_folds && !fo->run.resume.empty())
      throw ConfigError("gtgm finetune: --fold all resumes by running it again; drop --resume");
    config::Config cfg;
    if (!fo->run.resume.empty()) {
      if (!opts->log_level.empty()) sets.push_back("run.log_level=" + opts->log_level);
      cfg = app::resume_config(fo->run.resume, opts->config, sets);
    } else {
      if (opts->config.empty()) {
        throw ConfigError(
            "gtgm finetune: --config is required (e.g. configs/finetune/msd/Task03_Liver.yaml), or "
            "--resume RUN_DIR");
      }
      ConfigOptions o = *opts;
      o.sets = sets;
      cfg = load_config(o);
    }
    if (!fo->run.pretrained.empty() && !std::filesystem::exists(fo->run.pretrained)) {
      throw ConfigError(
          fmt::format("gtgm finetune: --pretrained {} does not exist (expected a pretraining run dir, a "
                      "checkpoint dir, a `gtgm export` dir, a .safetensors file or an encoder.pt)",
                      fo->run.pretrained));
    }
    fo->run.predict = !fo->no_predict;
    if (all_folds) {
      const std::vector<app::FinetuneResult> rs = app::run_finetune_folds(cfg, fo->run);
      const bool stopped = !rs.empty() && rs.back().train.interrupted;
      if (stopped) {
        std::cout << fmt::format("gtgm finetune: fold {} stopped; run the same command again to continue\n",
                                 rs.back().run_dir.string());
        return;
      }
      std::cout << fmt::format(
          "gtgm finetune: {} fold(s) trained now, {} kept from earlier, in {}/fold_<k> "
          "(folds.json); predict with: gtgm predict -m {} -i INPUT -o OUTPUT\n",
          rs.size(), cfg.data.num_folds - static_cast<int>(rs.size()), cfg.run.dir, cfg.run.dir);
      return;
    }
    const app::FinetuneResult r = app::run_finetune(cfg, fo->run);
    if (r.train.interrupted) {
      std::cout << fmt::format("gtgm finetune: stopped ({}) at step {} of {}; continue with --resume {}\n",
                               r.train.stop_reason, r.train.step, cfg.train.steps, r.run_dir.string());
      return;
    }
    std::cout << fmt::format("gtgm finetune: finished {} steps in {:.1f}s; {} train / {} held-out case(s); init: {}\n",
                             r.train.step, r.train.seconds, r.train_cases, r.test_cases, r.init_report);
    std::cout << fmt::format("gtgm finetune: {} | predictions {} | best checkpoint {}\n", metrics_text(r.mean_metrics),
                             r.predictions_dir.empty() ? std::string("(none)") : r.predictions_dir.string(),
                             r.best_checkpoint.string());
  });
}

}  // namespace gtgm::cli
