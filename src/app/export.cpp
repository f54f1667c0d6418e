#include "gtgm/app/export.h"

#include <nlohmann/json.hpp>

#include "gtgm/config/load.h"
#include "gtgm/config/saved_config.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/build_info.h"
#include "gtgm/core/error.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/io/torch_dict.h"
#include "gtgm/models/registry.h"
#include "gtgm/train/checkpoint.h"

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace gtgm::app {

namespace {

ordered_json model_config_json(const config::Config& cfg) {
  ordered_json model_cfg = ordered_json::object();
  for (const auto& [key, value] : config::flatten(cfg)) {
    if (key.rfind("model.", 0) == 0) model_cfg[key.substr(6)] = value;
  }
  return model_cfg;
}

bool has_head_tensors(const io::NamedTensors& weights) {
  for (const auto& [name, t] : weights) {
    if (name.rfind("head.", 0) == 0) return true;
  }
  return false;
}

void check_weights_finite(const io::NamedTensors& state, const fs::path& file) {
  for (const auto& [name, t] : state) {
    GTGM_CHECK(!t.is_floating_point() || torch::isfinite(t).all().item<bool>(),
               "{}: tensor '{}' holds NaN or Inf (a diverged run); export an earlier checkpoint instead", file.string(),
               name);
  }
}

// The output folder is checked before any checkpoint is read, so a wrong --out fails at once.
void check_out_folder(const fs::path& out) {
  std::error_code ec;
  const auto st = fs::status(out, ec);
  GTGM_CHECK(!fs::exists(st) || fs::is_directory(st),
             "export --out: {} is a file; expected a folder (the export writes its weights and architecture.json "
             "into it)",
             out.string());
}

}  // namespace

ExportResult export_encoder(const ExportOptions& o) {
  ExportResult result;
  check_out_folder(o.out);
  result.checkpoint = train::resolve_checkpoint(o.source, o.best);
  const fs::path ck = result.checkpoint;
  const config::Config cfg =
      config::load_saved_config(core::read_text_file(ck / "config.yaml"), (ck / "config.yaml").string());
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

  io::save_torch_dict(o.out / "encoder.pt", state);
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
  arch["model_config"] = model_config_json(cfg);
  ordered_json shapes = ordered_json::object();
  for (const auto& [name, t] : state) shapes[name] = t.sizes().vec();
  arch["tensors"] = shapes;
  arch["files"] = {{"safetensors", "encoder.safetensors"}, {"torch", "encoder.pt"}};
  core::atomic_write_text(o.out / "architecture.json", arch.dump(2) + "\n");
  result.files.push_back(o.out / "architecture.json");
  result.tensors = static_cast<int64_t>(state.size());
  result.format = "gtgm-encoder";
  return result;
}

ordered_json segmentation_architecture(const config::ModelConfig& cfg, models::SegmentationModelImpl& model) {
  using config::to_string;
  const auto& enc = *model.encoder();
  const config::EncoderConfig& shared = cfg.encoder;
  ordered_json net;
  net["spatial_dims"] = shared.spatial_dims;
  net["in_channels"] = shared.in_channels;
  net["input_layout"] = shared.spatial_dims == 3 ? "[B, C, D, H, W]" : "[B, C, H, W]";
  net["block"] = {{"norm", to_string(shared.norm)},
                  {"norm_groups", shared.norm_groups},
                  {"activation", to_string(shared.activation)}};
  ordered_json e;
  e["type"] = enc.type();
  if (const auto* r = dynamic_cast<const models::ResNet3dImpl*>(&enc)) {
    const config::ResNet3dConfig& o = r->options();
    e["depth"] = o.depth;
    e["base_channels"] = shared.base_channels;
    e["stem_kernel"] = models::expand_shape(models::to_shape(o.stem_kernel), shared.spatial_dims, "model.stem_kernel");
    e["stem_stride"] = models::expand_shape(models::to_shape(o.stem_stride), shared.spatial_dims, "model.stem_stride");
    e["stem_pool"] = o.stem_pool;
    if (o.stem_pool) {
      e["stem_pool_stride"] =
          models::expand_shape(models::to_shape(o.stem_pool_stride), shared.spatial_dims, "model.stem_pool_stride");
    }
  } else if (dynamic_cast<const models::ResUNetEncoderImpl*>(&enc) != nullptr) {
    const auto plan = config::resolve_stage_plan(shared, cfg.unet);
    e["channels"] = plan.channels;
    e["strides"] = plan.strides;
    e["kernels"] = plan.kernels;
    e["blocks"] = plan.blocks;
  } else if (const auto* v = dynamic_cast<const models::ViT3dImpl*>(&enc)) {
    const config::ViT3dConfig& o = v->options();
    e["patch_size"] = o.patch_size;
    e["input_size"] = o.input_size;
    e["hidden_size"] = o.hidden_size;
    e["num_layers"] = o.num_layers;
    e["num_heads"] = o.num_heads;
    e["mlp_dim"] = o.mlp_dim;
    e["pos_embed"] = to_string(o.pos_embed);
    e["dropout"] = o.dropout;
    e["tap_layers"] = v->tap_layers();
  } else if (const auto* w = dynamic_cast<const models::Swin3dImpl*>(&enc)) {
    const config::Swin3dConfig& o = w->options();
    e["patch_size"] = o.patch_size;
    e["feature_size"] = o.feature_size;
    e["depths"] = o.depths;
    e["heads"] = o.heads;
    e["window"] = o.window;
    e["mlp_ratio"] = o.mlp_ratio;
    e["normalize"] = o.normalize;
  } else {
    GTGM_THROW("export: model.type {} has no architecture description", enc.type());
  }
  e["embed_dim"] = enc.embed_dim();
  ordered_json features = ordered_json::array();
  for (const auto& f : enc.feature_info()) features.push_back({{"channels", f.channels}, {"stride", f.stride}});
  e["features"] = features;
  net["encoder"] = e;

  ordered_json d;
  const auto& dec = *model.decoder();
  if (dynamic_cast<const models::UNetDecoderImpl*>(&dec) != nullptr) {
    // output_channels() = [final level (only when the top skip is strided),] channels per skip level.
    std::vector<int64_t> ch = dec.output_channels();
    const bool final_up = ch.size() == enc.feature_info().size();
    if (final_up) ch.erase(ch.begin());
    d["type"] = "unet";
    d["channels"] = ch;
    d["upsample"] = to_string(cfg.upsample);
    d["final_up"] = final_up;
  } else if (const auto* u = dynamic_cast<const models::UNETRDecoderImpl*>(&dec)) {
    d["type"] = "unetr";
    d["feature_size"] = cfg.unetr_feature_size;
    d["levels"] = u->levels();
  } else if (dynamic_cast<const models::ResUNetDecoderImpl*>(&dec) != nullptr) {
    d["type"] = "resunet";
  } else if (dynamic_cast<const models::SwinUNETRDecoderImpl*>(&dec) != nullptr) {
    d["type"] = "swin_unetr";
    d["feature_size"] = cfg.swin3d.feature_size;
  } else {
    GTGM_THROW("export: model.decoder {} has no architecture description", to_string(cfg.decoder));
  }
  d["output_channels"] = dec.output_channels();
  d["output_strides"] = dec.output_strides();
  net["decoder"] = d;
  const auto& head = model.head()->options();
  net["head"] = {{"type", to_string(cfg.head)},
                 {"out_channels", head.out_channels()},
                 {"deep_supervision", head.deep_supervision()}};
  net["size_divisor"] = model.size_divisor();
  return net;
}

ExportResult export_segmentation_model(models::SegmentationModelImpl& model, const config::Config& cfg,
                                       const fs::path& out, const ordered_json& extra) {
  ExportResult result;
  result.format = "gtgm-segmentation";
  fs::create_directories(out);
  const io::NamedTensors state = io::module_state(model);
  std::map<std::string, std::string> meta = {{"format", result.format}, {"encoder", config::to_string(cfg.model.type)}};
  if (extra.contains("source_checkpoint")) meta["source"] = extra["source_checkpoint"].get<std::string>();
  io::save_safetensors(out / "model.safetensors", state, meta);
  result.files.push_back(out / "model.safetensors");
  io::save_torch_dict(out / "model.pt", state);
  result.files.push_back(out / "model.pt");

  ordered_json arch;
  arch["format"] = result.format;
  arch["version"] = 1;
  arch["gtgm_version"] = core::gtgm_version();
  if (extra.is_object()) {
    for (auto it = extra.begin(); it != extra.end(); ++it) arch[it.key()] = it.value();
  }
  arch["network"] = segmentation_architecture(cfg.model, model);
  arch["parameters"] = models::count_parameters(model);
  arch["model_config"] = model_config_json(cfg);
  ordered_json shapes = ordered_json::object();
  for (const auto& [name, t] : state) shapes[name] = t.sizes().vec();
  arch["tensors"] = shapes;
  arch["files"] = {{"safetensors", "model.safetensors"}, {"torch", "model.pt"}};
  core::atomic_write_text(out / "architecture.json", arch.dump(2) + "\n");
  result.files.push_back(out / "architecture.json");
  result.tensors = static_cast<int64_t>(state.size());
  return result;
}

ExportResult export_checkpoint(const ExportOptions& o) {
  check_out_folder(o.out);
  const fs::path ck = train::resolve_checkpoint(o.source, o.best);
  const fs::path file = ck / "model.safetensors";
  const io::NamedTensors weights = io::load_safetensors(file);
  if (!has_head_tensors(weights)) return export_encoder(o);
  GTGM_CHECK(!o.with_heads, "{}: --with-heads exports pretraining projections, but this is a fine-tuning checkpoint",
             ck.string());
  const config::Config cfg =
      config::load_saved_config(core::read_text_file(ck / "config.yaml"), (ck / "config.yaml").string());
  const int64_t step = train::read_manifest(ck).at("step").get<int64_t>();
  check_weights_finite(weights, file);
  models::SegmentationModel model = models::build_segmentation_model(cfg.model);
  io::load_state_into(*model, weights, /*strict=*/true, file.string());
  model->eval();

  ordered_json extra;
  extra["source_checkpoint"] = fs::absolute(ck).string();
  extra["step"] = step;
  extra["task"] = config::to_string(cfg.finetune.task);
  // The preprocessing plan the network was trained on (spacing, normalisation), as predict uses it.
  const fs::path run_dir = ck.parent_path().parent_path();
  extra["plan"] = nullptr;
  for (const fs::path& p : {run_dir / "plan.json", data::resolve_cache_dir(cfg.data) / "plan.json"}) {
    if (fs::exists(p)) {
      extra["plan"] = ordered_json::parse(core::read_text_file(p));
      extra["plan_file"] = fs::absolute(p).string();
      break;
    }
  }
  ordered_json data_cfg = ordered_json::object();
  for (const auto& [key, value] : config::flatten(cfg)) {
    if (key.rfind("data.", 0) == 0) data_cfg[key.substr(5)] = value;
  }
  extra["data_config"] = data_cfg;
  ExportResult result = export_segmentation_model(*model, cfg, o.out, extra);
  result.checkpoint = ck;
  result.step = step;
  return result;
}

}  // namespace gtgm::app
