// `gtgm caption`: caption grid positions of volumes into the caption cache (template captioner or an
// OpenAI-compatible vision-language server), or import the GTGM reference code's CSV captions.
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/text/caption_run.h"
#include "gtgm/text/captioner.h"

namespace gtgm::cli {
void register_caption(CLI::App& app) {
  auto* cmd = app.add_subcommand("caption", "Generate the caption cache from volumes");
  struct Args {
    ConfigOptions config;
    std::vector<std::string> images;
    std::string out;
    std::string import_csv;
    int64_t max_positions = -1;
  };
  auto a = std::make_shared<Args>();
  add_config_options(*cmd, a->config, false);
  cmd->add_option("--images", a->images, "Volume files or folders of volume files (repeatable)");
  cmd->add_option("--out", a->out, "Caption cache to write or extend (default: text.caption_cache)");
  cmd->add_option("--import-csv", a->import_csv,
                  "Instead of captioning: import the GTGM reference per-volume CSV files (z,y,x,caption) from this "
                  "folder");
  cmd->add_option("--max-positions", a->max_positions, "Caption at most this many grid positions per volume (demos)");
  cmd->callback([a] {
    const auto cfg = load_config(a->config);
    const std::string out = a->out.empty() ? cfg.text.caption_cache : a->out;
    if (out.empty()) throw ConfigError("caption: no output: pass --out or set text.caption_cache");
    if (!a->import_csv.empty()) {
      const auto n = text::import_reference_csv(a->import_csv, out);
      std::cout << fmt::format("imported {} captions into {}\n", n, out);
      return;
    }
    if (a->images.empty()) throw ConfigError("caption: pass --images FILE_OR_FOLDER (or --import-csv FOLDER)");
    text::CaptionRunOptions opt;
    for (const auto& i : a->images) opt.inputs.emplace_back(i);
    opt.out = out;
    opt.max_positions = a->max_positions;
    auto captioner = text::make_captioner(cfg.text.captioner);
    const auto r = text::run_caption(cfg.text.captioner, *captioner, opt);
    std::cout << fmt::format("{} volumes, {} positions: {} written, {} already done, {} failed -> {}\n", r.volumes,
                             r.positions, r.written, r.skipped, r.failed, out);
    if (r.failed > 0)
      throw Error(fmt::format("{} positions failed (first error: {}); re-run the same command to retry only them",
                              r.failed, r.first_error),
                  "");
  });
}

}  // namespace gtgm::cli
