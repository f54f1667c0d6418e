// `gtgm info`: build and machine facts; `--config-docs` prints docs/configs.md.
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/app/dataset_checks.h"
#include "gtgm/core/build_info.h"
#include "gtgm/data/manifest.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/io/io_info.h"
#include "gtgm/models/registry.h"

namespace gtgm::cli {
namespace {

// `info --model`: the `auto` keys filled as a run fills them when the dataset (and its plan) is
// there; otherwise shown with stand-ins, and the output says which.
config::Config with_auto_shown(config::Config cfg, std::string& notes) {
  const bool segmentation = cfg.model.head == config::HeadType::Segmentation;
  try {
    for (const auto& line : app::resolve_dataset_auto(cfg, data::load_manifest(cfg.data), segmentation))
      notes += line + "\n";
  } catch (const std::exception&) {  // no dataset at data.root: stand-ins below
  }
  try {
    if (const std::string line = app::resolve_planned_crop(cfg, data::resolve_cache_dir(cfg.data)); !line.empty())
      notes += line + "\n";
  } catch (const std::exception&) {  // no plan: the sizes are left out
  }
  if (cfg.model.encoder.in_channels == 0) {
    cfg.model.encoder.in_channels = 1;
    notes += "model.in_channels: auto (no dataset.json at data.root to read it from): shown with 1\n";
  }
  if (cfg.model.num_classes == 0) {
    cfg.model.num_classes = 2;
    notes += "model.num_classes: auto (no dataset.json \"labels\" to read it from): shown with 2\n";
  }
  if (cfg.data.crop_size.empty()) notes += "data.crop_size: auto (no plan.json yet): feature sizes left out\n";
  return cfg;
}

}  // namespace

void register_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print gtgm/LibTorch/CUDA/NCCL/ITK versions, threads and bf16 support");
  auto docs = std::make_shared<bool>(false);
  auto resolved = std::make_shared<ConfigOptions>();
  auto print_config = std::make_shared<bool>(false);
  cmd->add_flag("--config-docs", *docs, "Print the Markdown reference of every config key (docs/configs.md)");
  cmd->add_flag("--print-config", *print_config, "Print the resolved config (with --config/--set) as YAML");
  auto model_config = std::make_shared<std::string>();
  cmd->add_option("--model", *model_config,
                  "Print the encoder's feature maps (strides, and sizes for CONFIG's data.crop_size) and the "
                  "parameter counts of the models built from CONFIG's model: section (with --set)")
      ->check(CLI::ExistingFile);
  auto volume = std::make_shared<std::string>();
  cmd->add_option("--volume", *volume,
                  "Print shape, channels, dtype, spacing, origin, direction and intensity range of a volume file "
                  "(NIfTI, NRRD, MHA/MHD, TIFF, HDF5 FILE[:DATASET]) or DICOM series folder");
  add_config_options(*cmd, *resolved, false);
  cmd->callback([docs, resolved, print_config, model_config, volume] {
    if (!volume->empty()) {
      std::cout << io::describe_volume(*volume);
      return;
    }
    if (!model_config->empty()) {
      ConfigOptions opts = *resolved;
      opts.config = *model_config;
      std::string notes;
      const config::Config cfg = with_auto_shown(load_config(opts), notes);
      std::cout << notes << models::describe_models(cfg.model, cfg.data.crop_size);
      return;
    }
    if (*docs) {
      std::cout << config::config_docs_markdown();
      return;
    }
    if (*print_config) {
      std::cout << config::to_yaml(load_config(*resolved));
      return;
    }
    auto rows = core::build_info_rows();
    rows.emplace_back("ITK", io::itk_version());
    size_t width = 0;
    for (const auto& r : rows) width = std::max(width, r.first.size());
    for (const auto& [k, v] : rows) std::cout << fmt::format("{:<{}}  {}\n", k, width, v);
  });
}

}  // namespace gtgm::cli
