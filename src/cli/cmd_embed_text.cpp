// `gtgm embed-text`: one frozen text-encoder embedding per caption of the caption cache.
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "common.h"
#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/text/embedding_cache.h"
#include "gtgm/text/text_encoder.h"

namespace gtgm::cli {
void register_embed_text(CLI::App& app) {
  auto* cmd = app.add_subcommand("embed-text", "Fill the text-embedding cache with a frozen text encoder");
  struct Args {
    ConfigOptions config;
    std::string captions, out;
  };
  auto a = std::make_shared<Args>();
  add_config_options(*cmd, a->config, false);
  cmd->add_option("--captions", a->captions, "Caption cache (default: text.caption_cache)");
  cmd->add_option("--out", a->out, "Text-embedding cache (default: text.embedding_cache)");
  cmd->callback([a] {
    const auto cfg = load_config(a->config);
    const std::string captions = a->captions.empty() ? cfg.text.caption_cache : a->captions;
    const std::string out = a->out.empty() ? cfg.text.embedding_cache : a->out;
    if (captions.empty()) throw ConfigError("embed-text: pass --captions or set text.caption_cache");
    if (out.empty()) throw ConfigError("embed-text: pass --out or set text.embedding_cache");
    if (cfg.text.freeze_layers != -1)
      throw ConfigError(
          fmt::format("embed-text: text.freeze_layers is {}; cached embeddings need a fully frozen "
                      "encoder (text.freeze_layers: -1)",
                      cfg.text.freeze_layers));
    core::set_num_threads(cfg.run.threads);
    const auto cache = text::load_caption_inputs(captions, cfg.text.caption_prefix);
    auto encoder = text::build_text_encoder(cfg.text);
    encoder->to(core::select_device(cfg.text.device.empty() ? cfg.run.device : cfg.text.device));
    text::EmbedTextOptions opt;
    opt.batch_size = cfg.text.batch_size;
    const auto r = text::embed_captions(*encoder, cache, out, opt);
    std::cout << fmt::format("{} captions: {} reused, {} encoded ({}-d) -> {}\n", r.total, r.reused, r.computed,
                             encoder->dim(), out);
  });
}

}  // namespace gtgm::cli
