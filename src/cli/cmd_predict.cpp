// `gtgm predict -i INPUT -o OUTPUT -m RUN[,RUN...]`: segments new images with fine-tuning runs
// (several: an ensemble), as nnUNetv2_predict (docs/predict.md). The work is app::run_predict.
#include <iostream>
#include <memory>

#include "commands.h"
#include "common.h"
#include "gtgm/app/predict.h"
#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"

namespace gtgm::cli {

namespace {

struct PredictCliOptions {
  std::string input, output, device = "auto", log_level = "info";
  std::vector<std::string> models;
  bool tta = false, no_tta = false, save_probabilities = false, overwrite = false, keep = false;
  int threads = 0, overlays = 0;
};

}  // namespace

void register_predict(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "predict",
      "Segment new images (a file, a folder of volumes or nnU-Net channel files, a DICOM series) with "
      "fine-tuning runs; several runs (folds) are ensembled (docs/predict.md)");
  auto o = std::make_shared<PredictCliOptions>();
  cmd->add_option("-i,--input", o->input,
                  "A volume file, a DICOM series folder, or a folder of volumes (MSD imagesTs, nnU-Net CASE_0000 "
                  "channel files) and DICOM series subfolders")
      ->required();
  cmd->add_option("-o,--output", o->output,
                  "Output folder (predictions named <case id><source extension>, .nii.gz for DICOM); a file path "
                  "when INPUT is one file")
      ->required();
  cmd->add_option("-m,--model", o->models,
                  "Fine-tuning run dir(s), checkpoint dir(s) or a folder of fold_<k> runs (gtgm finetune --fold all); "
                  "comma-separated or repeated; several are ensembled by averaging probabilities")
      ->required()
      ->delimiter(',');
  cmd->add_flag("--tta", o->tta,
                "Mirror test-time augmentation (average over axis flips; default: the runs' "
                "eval.mirror_tta)");
  cmd->add_flag("--no-tta", o->no_tta, "No mirror TTA, whatever the runs' eval.mirror_tta says");
  cmd->add_flag("--save-probabilities", o->save_probabilities,
                "Also write OUTPUT/probabilities/<case id>.nii.gz: float32 [K, D, H, W] on the source grid");
  cmd->add_flag("--overwrite", o->overwrite, "Replace predictions that already exist in OUTPUT");
  cmd->add_flag("--continue", o->keep, "Keep predictions that already exist in OUTPUT and predict the rest");
  cmd->add_option("--device", o->device, "auto|cpu|cuda|cuda:N (default auto)");
  cmd->add_option("--threads", o->threads, "Intra-op CPU threads (default 0: OMP_NUM_THREADS, else one per core this process may use)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--overlays", o->overlays,
                  "Also write OUTPUT/overlays/<case id>.png for the first N cases predicted: the axial slice with "
                  "the most foreground, image | image + prediction, radiological view, case id and class legend")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--log-level", o->log_level, "trace|debug|info|warn|error|off");
  cmd->callback([o] {
    core::set_log_level(o->log_level);
    if (o->tta && o->no_tta) throw ConfigError("gtgm predict: --tta and --no-tta contradict each other");
    if (o->overwrite && o->keep) throw ConfigError("gtgm predict: --overwrite and --continue contradict each other");
    core::set_num_threads(o->threads);
    app::PredictOptions p;
    p.input = o->input;
    p.output = o->output;
    for (const std::string& m : o->models) p.models.emplace_back(m);
    if (o->tta) p.tta = true;
    if (o->no_tta) p.tta = false;
    p.save_probabilities = o->save_probabilities;
    p.overlays = o->overlays;
    p.existing = o->overwrite ? app::ExistingOutputs::Overwrite
                 : o->keep    ? app::ExistingOutputs::Skip
                              : app::ExistingOutputs::Refuse;
    p.device = core::select_device(o->device);
    const app::PredictSummary s = app::run_predict(p);
    size_t skipped = 0;
    for (const auto& c : s.cases) skipped += c.skipped ? 1 : 0;
    std::cout << fmt::format("gtgm predict: {} case(s) predicted{} with {} model(s){} in {:.1f} s -> {}\n",
                             s.cases.size() - skipped, skipped > 0 ? fmt::format(", {} kept", skipped) : "",
                             s.checkpoints.size(), s.tta ? " + mirror TTA" : "", s.seconds, p.output.string());
  });
}

}  // namespace gtgm::cli
