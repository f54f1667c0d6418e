#include "gtgm/app/export.h"

#include <nlohmann/json.hpp>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/build_info.h"
#include "gtgm/core/error.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/models/registry.h"
#include "gtgm/train/checkpoint.h"

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace gtgm::app {

ExportResult export_encoder(const ExportOptions& o) {
  ExportResult result;
  // The output folder is checked before any checkpoint is read, so a wrong --out fails at once.
  {
    std::error_code ec;
    const auto st = fs::status(o.out, ec);
    GTGM_CHECK(!fs::exists(st) || fs::is_directory(st),
               "export --out: {} is a file; expected a folder (the export "
               "writes encoder.safetensors, encoder.pt and architecture.json into it)",
               o.out.string());
  }
  result.checkpoint = train::resolve_checkpoint(o.source, o.best);
  const fs::path ck = result.checkpoint;
  const config::Config cfg =
      config::load_config_string(core::read_text_file(ck / "config.yaml"), (ck / "config.yaml").string());
  const auto manifest = train::read_manifest(ck);
  result.step = manifest.at("step").get<int64_t>();
  const io::NamedTensors weights = io::load_safetensors(ck / "model.safetensors");

  auto encoder = models::build_encoder(cfg.model);
  io::NamedTensors enc_state, heads;
  for (const auto& [name, t] : weights) {
    if (name.rfind("encoder.", 0) == 0)
      enc_state.emplace_back(name.substr(8), t);
    else if (name.rfind("vision_proj.", 0) == 0 || name.rfind("text_proj.", 0) == 0 || name.rfind("objective.", 0) == 0)
      heads.emplace_back(name, t);
  }
  for (const auto& [name, t] : enc_state) {
    GTGM_CHECK(!t.is_floating_point() || torch::isfinite(t).all().item<bool>(),
               "{}: encoder tensor '{}' holds NaN or Inf (a diverged run); export an earlier checkpoint instead",
               (ck / "model.safetensors").string(), name);
  }
  GTGM_CHECK(!enc_state.empty(), "{}: no 'encoder.*' tensors in model.safetensors (not a pretraining checkpoint?)",
             ck.string());
  io::load_state_into(*encoder, enc_state, /*strict=*/true, (ck / "model.safetensors").string());

  core::create_dirs(o.out, "export --out (output folder)");
  const io::NamedTensors state = io::module_state(*encoder);
  const std::map<std::string, std::string> meta = {{"format", "gtgm-encoder"},
                                                   {"encoder", config::to_string(cfg.model.type)},
                                                   {"source", ck.string()},
                                                   {"step", std::to_string(result.step)}};
  io::save_safetensors(o.out / "encoder.safetensors", state, meta);
  result.files.push_back(o.out / "encoder.safetensors");

  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : state) dict.insert(name, t.detach().cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(dict);
  core::atomic_write(o.out / "encoder.pt",
                     [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
  result.files.push_back(o.out / "encoder.pt");

  if (o.with_heads) {
    GTGM_CHECK(!heads.empty(), "{}: no projection heads in model.safetensors", ck.string());
    io::save_safetensors(o.out / "projections.safetensors", heads, meta);
    result.files.push_back(o.out / "projections.safetensors");
  }

  ordered_json arch;
  arch["format"] = "gtgm-encoder";
  arch["version"] = 1;
  arch["gtgm_version"] = core::gtgm_version();
  arch["source_checkpoint"] = fs::absolute(ck).string();
  arch["step"] = result.step;
  arch["encoder"] = config::to_string(cfg.model.type);
  arch["spatial_dims"] = encoder->spatial_dims();
  arch["in_channels"] = encoder->in_channels();
  arch["embed_dim"] = encoder->embed_dim();
  arch["input_layout"] = encoder->spatial_dims() == 3 ? "[B, C, D, H, W]" : "[B, C, H, W]";
  ordered_json features = ordered_json::array();
  for (const auto& f : encoder->feature_info()) features.push_back({{"channels", f.channels}, {"stride", f.stride}});
  arch["features"] = features;
  arch["parameters"] = models::count_parameters(*encoder);
  ordered_json model_cfg = ordered_json::object();
  for (const auto& [key, value] : config::flatten(cfg)) {
    if (key.rfind("model.", 0) == 0) model_cfg[key.substr(6)] = value;
  }
  arch["model_config"] = model_cfg;
  ordered_json shapes = ordered_json::object();
  for (const auto& [name, t] : state) shapes[name] = t.sizes().vec();
  arch["tensors"] = shapes;
  arch["files"] = {{"safetensors", "encoder.safetensors"}, {"torch", "encoder.pt"}};
  core::atomic_write_text(o.out / "architecture.json", arch.dump(2) + "\n");
  result.files.push_back(o.out / "architecture.json");
  result.tensors = static_cast<int64_t>(state.size());
  return result;
}

}  // namespace gtgm::app
