// Commands whose implementation lands with later issues: each has its real options and --help,
// and says plainly that it is not built yet (exit code 1).
#include "common.h"
#include "registry.h"

namespace gtgm::cli {
namespace {

void pending(CLI::App& app, const char* name, const char* help, const char* issue, bool takes_config) {
  if (command_registry().count(name) != 0) return;  // the real command has landed
  auto* cmd = app.add_subcommand(name, help);
  auto opts = std::make_shared<ConfigOptions>();
  if (takes_config) add_config_options(*cmd, *opts, false);
  cmd->allow_extras();
  const std::string n = name, i = issue;
  cmd->callback([n, i] { not_built(n, i); });
}

}  // namespace

void register_pending(CLI::App& app) {
  pending(app, "pretrain", "Pretrain the image encoder with the GTGM objective", "pretraining, issue #5", true);
  pending(app, "finetune", "Fine-tune a segmentation model on one dataset", "fine-tuning, issue #6", true);
  pending(app, "eval", "Run the 13-dataset evaluation suite and write the report", "evaluation, issue #6", true);
  pending(app, "score", "Score predictions against references (Dice, HD95, NSD, VOI, ARAND)", "evaluation, issue #6", false);
  pending(app, "caption", "Generate the caption cache from volumes", "captioners, issue #4", true);
  pending(app, "embed-text", "Fill the text-embedding cache with a frozen text encoder", "text encoder, issue #4", true);
  pending(app, "synth", "Write synthetic CT/MRI/EM datasets in their real formats", "data, issue #3", false);
  pending(app, "plan", "Fingerprint a dataset and plan spacing/patch size; --check validates every case", "data, issue #3", true);
  pending(app, "preprocess", "Resample and normalise a dataset into the cache", "data, issue #3", true);
  pending(app, "export", "Export encoder weights (safetensors + architecture JSON) for Python", "pretraining, issue #5", true);
  pending(app, "bench", "Throughput benchmarks: data, train, infer, dist", "issues #3/#5/#6/#7", true);
}

}  // namespace gtgm::cli
