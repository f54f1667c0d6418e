#include "gtgm/app/load_predictor.h"

#include <fmt/ranges.h>

#include <algorithm>

#include "gtgm/config/load.h"
#include "gtgm/config/saved_config.h"
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
  o.affinity_merge = cfg.finetune.affinity_merge;
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
      config::load_saved_config(core::read_text_file(ck / "config.yaml"), (ck / "config.yaml").string());
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

namespace gtgm::app {

namespace {

bool is_run_or_checkpoint(const fs::path& p) {
  return fs::exists(p / "manifest.json") || fs::is_directory(train::checkpoints_root(p));
}

// What two members must agree on, as "what: value" lines (empty when they agree).
std::string ensemble_mismatch(const LoadedPredictor& a, const LoadedPredictor& b) {
  const infer::PredictorOptions& x = a.predictor.options();
  const infer::PredictorOptions& y = b.predictor.options();
  std::string out;
  auto differ = [&out](const std::string& what, const std::string& va, const std::string& vb) {
    if (va != vb) out += fmt::format("\n  {}: {} vs {}", what, va, vb);
  };
  differ("finetune.task", config::to_string(a.config.finetune.task), config::to_string(b.config.finetune.task));
  differ("model.num_classes", std::to_string(a.config.model.num_classes), std::to_string(b.config.model.num_classes));
  differ("data.crop_size (sliding window)", fmt::format("{}", fmt::join(x.window.patch_size, "x")),
         fmt::format("{}", fmt::join(y.window.patch_size, "x")));
  differ("eval.overlap", fmt::format("{}", x.window.overlap), fmt::format("{}", y.window.overlap));
  differ("eval.blend", config::to_string(a.config.eval.blend), config::to_string(b.config.eval.blend));
  differ("finetune.affinity_threshold", fmt::format("{}", x.affinity_threshold),
         fmt::format("{}", y.affinity_threshold));
  differ("finetune.affinity_merge", config::to_string(x.affinity_merge), config::to_string(y.affinity_merge));
  const std::string pa = a.predictor.plan() ? a.predictor.plan()->to_json() : std::string("none");
  const std::string pb = b.predictor.plan() ? b.predictor.plan()->to_json() : std::string("none");
  if (pa != pb) out += "\n  plan.json (preprocessing): differs";
  return out;
}

}  // namespace

std::vector<fs::path> expand_model_dirs(const std::vector<fs::path>& paths) {
  GTGM_CHECK(!paths.empty(), "predict: no model given (a fine-tuning run dir, checkpoint dir or folder of folds)");
  std::vector<fs::path> out;
  for (const fs::path& p : paths) {
    GTGM_CHECK(fs::is_directory(p),
               "{} is not a folder (expected a fine-tuning run dir, a checkpoint dir or a folder "
               "of fold_<k> run dirs)",
               p.string());
    if (is_run_or_checkpoint(p)) {
      out.push_back(p);
      continue;
    }
    std::vector<std::pair<int64_t, fs::path>> folds;
    for (const auto& e : fs::directory_iterator(p)) {
      const std::string name = e.path().filename().string();
      if (!e.is_directory() || name.rfind("fold_", 0) != 0 || name.size() == 5) continue;
      const std::string k = name.substr(5);
      if (k.find_first_not_of("0123456789") != std::string::npos || k.size() > 6) continue;
      if (is_run_or_checkpoint(e.path())) folds.emplace_back(std::stoll(k), e.path());
    }
    GTGM_CHECK(!folds.empty(),
               "{} holds no checkpoints/ (not a run dir), no manifest.json (not a checkpoint dir) "
               "and no fold_<k> run dirs",
               p.string());
    std::sort(folds.begin(), folds.end());
    for (auto& f : folds) out.push_back(f.second);
  }
  return out;
}

LoadedEnsemble load_ensemble(const std::vector<fs::path>& runs, const torch::Device& device,
                             std::optional<bool> mirror_tta) {
  GTGM_CHECK(!runs.empty(), "load_ensemble: no run given");
  std::vector<LoadedPredictor> members;
  std::vector<infer::ForwardFn> networks;
  for (const fs::path& r : runs) {
    LoadedPredictor m = load_predictor(r, device);
    if (!members.empty()) {
      const std::string diff = ensemble_mismatch(members.front(), m);
      GTGM_CHECK(diff.empty(), "predict: {} and {} cannot be ensembled: they differ in{}", runs.front().string(),
                 r.string(), diff);
    }
    const core::Precision precision = core::resolve_precision(m.config.run.precision, device);
    networks.push_back(network_forward(m.model, device, precision));
    members.push_back(std::move(m));
  }
  infer::PredictorOptions options = members.front().predictor.options();
  if (mirror_tta) options.window.mirror_tta = *mirror_tta;
  GTGM_CHECK(!(options.kind == infer::PredictionKind::Affinity && options.window.mirror_tta),
             "predict: --tta (mirror TTA) is not defined for affinity models ({}): a flipped affinity prediction is "
             "shifted by one voxel",
             runs.front().string());
  infer::Predictor predictor(std::move(networks), options, members.front().predictor.plan());
  return {std::move(members), std::move(predictor)};
}

}  // namespace gtgm::app
