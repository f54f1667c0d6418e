// `gtgm export`: a pretrained encoder, or a fine-tuned segmentation network, as safetensors + a
// torch.load-able dict + architecture JSON.
#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/app/export.h"
#include "gtgm/core/error.h"

namespace gtgm::cli {

void register_export(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "export",
      "Export for Python: a pretraining checkpoint's encoder (encoder.safetensors, encoder.pt, architecture.json) "
      "or a fine-tuned segmentation network (model.safetensors, model.pt, architecture.json; rebuild it with "
      "python/gtgm_models.py)");
  auto o = std::make_shared<app::ExportOptions>();
  auto source = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("source", *source,
                  "Pretraining or fine-tuning run directory (newest valid checkpoint) or checkpoint directory")
      ->required();
  cmd->add_option("-o,--out", *out, "Output folder")->required();
  cmd->add_flag("--best", o->best,
                "Export the best checkpoint of the run (checkpoints/best.json) instead of the newest");
  cmd->add_flag("--with-heads", o->with_heads,
                "Pretraining checkpoints: also write projections.safetensors (vision_proj, text_proj, objective)");
  cmd->callback([o, source, out] {
    o->source = *source;
    o->out = *out;
    const auto r = app::export_checkpoint(*o);
    std::cout << fmt::format("gtgm export: {} tensors ({}) of step {} from {}\n", r.tensors, r.format, r.step,
                             r.checkpoint.string());
    for (const auto& f : r.files) std::cout << "  " << f.string() << "\n";
  });
}

}  // namespace gtgm::cli
