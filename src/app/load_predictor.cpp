#include "gtgm/app/load_predictor.h"

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/models/registry.h"
#include "gtgm/train/checkpoint.h"

namespace gtgm::app {

namespace fs = std::filesystem;

infer::ForwardFn network_forward(models::SegmentationModel model, const torch::Device& device,
                                 core::Precision precision, bool channels_last) {
  return [model, device, precision, channels_last](const torch::Tensor& x) mutable {
    core::AutocastGuard autocast(device, precision);
    torch::Tensor in = x.to(device);
    if (channels_last && in.dim() == 5) in = in.contiguous(at::MemoryFormat::ChannelsLast3d);
    return model->forward(in).to(torch::kFloat);
  };
}

infer::PredictionKind prediction_kind(const config::Config& cfg) {
  return cfg.finetune.task == config::FinetuneTask::Affinity ? infer::PredictionKind::Affinity
                                                             : infer::PredictionKind::Segmentation;
}

infer::PredictorOptions predictor_options(const config::Config& cfg, const torch::Device& device) {
  infer::PredictorOptions o;
  o.kind = prediction_kind(cfg);
  o.window = infer::sliding_window_options(
      cfg.eval, {cfg.data.crop_size[0], cfg.data.crop_size[1], cfg.data.crop_size[2]}, device);
  o.affinity_threshold = cfg.finetune.affinity_threshold;
  return o;
}

LoadedPredictor load_predictor(const fs::path& run_or_checkpoint, const torch::Device& device) {
  GTGM_CHECK(fs::exists(run_or_checkpoint), "load_predictor: {} does not exist (a fine-tuning run dir or checkpoint)",
             run_or_checkpoint.string());
  const bool is_checkpoint = fs::exists(run_or_checkpoint / "manifest.json");
  const fs::path run_dir = is_checkpoint ? run_or_checkpoint.parent_path().parent_path() : run_or_checkpoint;
  const fs::path ck = is_checkpoint
                          ? run_or_checkpoint
                          : train::resolve_checkpoint(run_or_checkpoint,
                                                      /*best=*/!train::read_best(run_or_checkpoint).is_null());
  const config::Config cfg =
      config::load_config_string(core::read_text_file(ck / "config.yaml"), (ck / "config.yaml").string());
  const io::NamedTensors weights = io::load_safetensors(ck / "model.safetensors");
  bool has_head = false;
  for (const auto& [name, t] : weights) has_head |= name.rfind("head.", 0) == 0;
  GTGM_CHECK(has_head,
             "load_predictor: {} holds no segmentation head ('head.*' tensors): a pretraining checkpoint predicts "
             "nothing; fine-tune it first (gtgm finetune --pretrained {})",
             (ck / "model.safetensors").string(), run_dir.string());
  models::SegmentationModel model = models::build_segmentation_model(cfg.model);
  io::load_state_into(*model, weights, /*strict=*/true, (ck / "model.safetensors").string());
  model->to(device);
  model->eval();

  std::optional<data::Plan> plan;
  for (const fs::path& p : {run_dir / "plan.json", data::resolve_cache_dir(cfg.data) / "plan.json"}) {
    if (fs::exists(p)) {
      plan = data::Plan::from_json(core::read_text_file(p), p.string());
      break;
    }
  }
  const core::Precision precision = core::resolve_precision(cfg.run.precision, device);
  infer::Predictor predictor(network_forward(model, device, precision), predictor_options(cfg, device), plan);
  return {cfg, ck, model, std::move(predictor)};
}

}  // namespace gtgm::app
