#include "gtgm/train/segmentation_task.h"

#include <map>

#include "gtgm/core/error.h"
#include "gtgm/core/format.h"
#include "gtgm/core/logging.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/io/torch_dict.h"
#include "gtgm/train/checkpoint.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gtgm::train {

std::string EncoderInitReport::text() const {
  std::string s = fmt::format(
      "{}: {} tensors loaded, {} missing ({} decoder/head, {} encoder), {} unexpected "
      "(projections / not encoder)",
      source, loaded, missing_other + missing_encoder, missing_other, missing_encoder, unexpected);
  if (!missing_keys.empty()) {
    std::vector<std::string> some(missing_keys.begin(),
                                  missing_keys.begin() + std::min<size_t>(5, missing_keys.size()));
    s += fmt::format("; encoder tensors not in the source: {}{}", fmt::join(some, ", "),
                     missing_keys.size() > some.size() ? ", ..." : "");
  }
  if (!adapted.empty()) s += "; adapted " + adapted;
  return s;
}

InitSource resolve_init_source(const fs::path& path) {
  GTGM_CHECK(!path.empty(), "encoder initialisation: empty path");
  GTGM_CHECK(fs::exists(path),
             "encoder initialisation: {} does not exist (expected a pretraining run dir, a checkpoint dir, a `gtgm "
             "export` dir or a .safetensors file)",
             path.string());
  if (fs::is_regular_file(path)) {
    GTGM_CHECK(path.extension() == ".safetensors" || path.extension() == ".pt",
               "encoder initialisation: {} is neither a .safetensors file nor a torch.save'd .pt dict (gtgm export's "
               "encoder.pt)",
               path.string());
    bool prefixed = false;
    if (path.extension() == ".pt") {
      for (const auto& [name, t] : io::load_torch_dict(path)) prefixed = prefixed || name.rfind("encoder.", 0) == 0;
    } else {
      for (const auto& e : io::read_safetensors_header(path)) prefixed = prefixed || e.name.rfind("encoder.", 0) == 0;
    }
    return {path, prefixed ? "encoder." : ""};
  }
  if (fs::exists(path / "encoder.safetensors")) return {path / "encoder.safetensors", ""};
  // A fine-tuned network's export: its encoder.* tensors start the next fine-tuning.
  if (fs::exists(path / "model.safetensors") && fs::exists(path / "architecture.json"))
    return {path / "model.safetensors", "encoder."};
  fs::path ck;
  if (fs::exists(path / "manifest.json")) {
    ck = resolve_checkpoint(path);
  } else {
    GTGM_CHECK(fs::exists(checkpoints_root(path)),
               "encoder initialisation: {} is neither a .safetensors file, an export dir (encoder.safetensors), a "
               "checkpoint dir (manifest.json) nor a run dir (checkpoints/)",
               path.string());
    const bool has_best = !read_best(path).is_null();
    if (!has_best)
      GTGM_WARN("encoder initialisation: {} records no best checkpoint; using its newest one", path.string());
    ck = resolve_checkpoint(path, has_best);
  }
  return {ck / "model.safetensors", "encoder."};
}

torch::Tensor adapt_input_conv(const torch::Tensor& weight, int64_t new_channels) {
  GTGM_CHECK(weight.dim() >= 3 && new_channels >= 1, "adapt_input_conv: expected a conv weight [O, C, *k], got {}",
             weight.sizes());
  const torch::Tensor summed = weight.to(torch::kDouble).sum(1, /*keepdim=*/true);  // [O, 1, *k]
  std::vector<int64_t> reps(static_cast<size_t>(weight.dim()), 1);
  reps[1] = new_channels;
  return (summed.repeat(reps) / static_cast<double>(new_channels)).to(weight.scalar_type());
}

EncoderInitReport init_encoder_from(models::EncoderImpl& encoder, const fs::path& path, int64_t other_tensors) {
  const InitSource src = resolve_init_source(path);
  const std::string where = src.file.string();
  const io::NamedTensors stored =
      src.file.extension() == ".pt" ? io::load_torch_dict(src.file) : io::load_safetensors(src.file);
  EncoderInitReport report;
  report.source = where;
  report.missing_other = other_tensors;
  const io::NamedTensors expected = io::module_state(encoder);
  std::map<std::string, torch::Tensor> shapes;
  for (const auto& [name, t] : expected) shapes[name] = t;
  // The stem: the first convolution weight, the only tensor that sees the input channels.
  std::string stem;
  for (const auto& [name, t] : expected) {
    if (t.dim() == encoder.spatial_dims() + 2 && t.size(1) == encoder.in_channels()) {
      stem = name;
      break;
    }
  }
  io::NamedTensors state;
  for (const auto& [name, t] : stored) {
    if (!src.prefix.empty() && name.rfind(src.prefix, 0) != 0) {
      report.unexpected_keys.push_back(name);
      continue;
    }
    std::string key = name.substr(src.prefix.size());
    torch::Tensor value = t;
    auto it = shapes.find(key);
    if (it != shapes.end() && key == stem && t.dim() == it->second.dim() && t.size(1) != it->second.size(1)) {
      bool rest_same = t.size(0) == it->second.size(0);
      for (int64_t d = 2; d < t.dim(); ++d) rest_same = rest_same && t.size(d) == it->second.size(d);
      if (rest_same) {
        report.adapted = fmt::format("stem '{}': {} -> {} input channels (channel sum repeated, scaled by 1/{})", key,
                                     t.size(1), it->second.size(1), it->second.size(1));
        value = adapt_input_conv(t, it->second.size(1));
      }
    }
    if (it != shapes.end() && value.sizes() != it->second.sizes()) {
      GTGM_THROW(
          "{}: tensor '{}' has shape {} but the {} encoder (model: section) expects {}: the pretraining "
          "encoder was built with other settings (model.type/depth/base_channels/stem_kernel...)",
          where, name, value.sizes(), encoder.type(), it->second.sizes());
    }
    state.emplace_back(std::move(key), std::move(value));
  }
  const io::LoadReport r = io::load_state_into(encoder, state, /*strict=*/false, where);
  report.loaded = static_cast<int64_t>(r.loaded.size());
  report.missing_encoder = static_cast<int64_t>(r.missing.size());
  report.missing_keys = r.missing;
  for (const auto& k : r.unexpected) report.unexpected_keys.push_back(src.prefix + k);
  report.unexpected = static_cast<int64_t>(report.unexpected_keys.size());
  if (report.loaded == 0) {
    std::vector<std::string> some;
    for (size_t i = 0; i < stored.size() && i < 5; ++i) some.push_back(stored[i].first);
    GTGM_THROW(
        "{}: no tensor loaded into the {} encoder ({} tensors stored{}{}); expected keys like '{}{}': not a "
        "pretraining checkpoint of this encoder?",
        where, encoder.type(), stored.size(), stored.empty() ? "" : ", e.g. ", fmt::join(some, ", "), src.prefix,
        expected.empty() ? std::string("?") : expected.front().first);
  }
  return report;
}

losses::DiceCeOptions dice_ce_options(const config::FinetuneConfig& cfg) {
  losses::DiceCeOptions o;
  o.batch_dice = cfg.batch_dice;
  o.include_background = cfg.include_background;
  o.smooth = cfg.dice_smooth;
  o.dice_weight = cfg.dice_weight;
  o.ce_weight = cfg.ce_weight;
  o.sigmoid_first = cfg.sigmoid_before_loss;
  return o;
}

FinetuneTaskBase::FinetuneTaskBase(FinetuneTaskConfig cfg, const torch::Device& device, ValidateFn validate,
                                   const std::string& task, const std::string& hint)
    : cfg_(std::move(cfg)), device_(device), validate_(std::move(validate)) {
  if (config::to_string(cfg_.model.head) != task) {
    throw ConfigError(fmt::format("finetune.task is {} but model.head is '{}': use model.head: {} {}", task,
                                  config::to_string(cfg_.model.head), task, hint));
  }
  model_ = models::build_segmentation_model(cfg_.model);
  model_->to(device_);
}

EncoderInitReport FinetuneTaskBase::init_encoder(const fs::path& path) {
  return init_model_encoder(*model_, path, device_);
}

SegmentationTask::SegmentationTask(FinetuneTaskConfig cfg, const torch::Device& device,
                                   std::shared_ptr<const data::CacheDataset> train_cases, ValidateFn validate)
    : FinetuneTaskBase(std::move(cfg), device, std::move(validate), "segmentation",
                       "(or finetune.task: affinity for EM)"),
      loss_(dice_ce_options(cfg_.finetune)) {
  GTGM_CHECK(train_cases && train_cases->size() > 0, "segmentation fine-tuning: no training cases");
  data::LoaderOptions o;
  o.seed = static_cast<uint64_t>(cfg_.run.seed);
  o.device = device_;
  o.augment = true;
  loader_ = std::make_unique<data::SegLoader>(std::move(train_cases), cfg_.data, o);
}

SegmentationTask::~SegmentationTask() = default;

EncoderInitReport init_model_encoder(models::SegmentationModelImpl& model, const fs::path& path,
                                     const torch::Device& device) {
  const int64_t total = static_cast<int64_t>(io::module_state(model).size());
  const int64_t enc = static_cast<int64_t>(io::module_state(*model.encoder()).size());
  EncoderInitReport r = init_encoder_from(*model.encoder(), path, total - enc);
  model.to(device);
  GTGM_INFO("encoder init: {}", r.text());
  return r;
}

Batch SegmentationTask::next_batch() {
  data::SegBatch b = loader_->next();
  const int64_t n = b.image.size(0);
  return {std::move(b), n};
}

Losses SegmentationTask::compute(const Batch& b, const StepContext& ctx) {
  const auto& batch = std::any_cast<const data::SegBatch&>(b.value);
  const torch::Tensor image = ctx.to_device(batch.image);  // [B, C, D, H, W]
  const torch::Tensor label = ctx.to_device(batch.label);  // [B, 1, D, H, W] int64
  std::vector<torch::Tensor> outputs;
  {
    auto autocast = ctx.autocast();
    if (cfg_.model.deep_supervision)
      outputs = model_->forward_deep(image);  // full resolution first
    else
      outputs.push_back(model_->forward(image));  // [B, K, D, H, W]
  }
  for (auto& o : outputs) o = o.to(torch::kFloat);  // losses in fp32
  losses::DiceCeTerms t;
  if (outputs.size() > 1) {
    t = losses::deep_supervision_loss(outputs, label,
                                      losses::deep_supervision_weights(static_cast<int>(outputs.size())), loss_);
  } else {
    t = losses::dice_ce_loss(outputs.front(), label, loss_);
  }
  return {t.total, {{"dice", t.dice}, {"ce", t.ce}}};
}

json SegmentationTask::state() const { return json::parse(loader_->state().to_json()); }

void SegmentationTask::restore(const json& state) { loader_->restore(data::LoaderState::from_json(state.dump())); }

}  // namespace gtgm::train
