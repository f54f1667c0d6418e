// `gtgm info`: build and machine facts; `--config-docs` prints docs/configs.md.
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/core/build_info.h"
#include "gtgm/io/io_info.h"
#include "gtgm/models/registry.h"

namespace gtgm::cli {

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
      const config::Config cfg = load_config(opts);
      std::cout << models::describe_models(cfg.model, cfg.data.crop_size);
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
