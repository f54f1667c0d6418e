#include "gtgm/train/pretrain_task.h"

#include <algorithm>

#include "gtgm/config/load.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/seed.h"
#include "gtgm/core/strings.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/dataset_auto.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/py_random.h"
#include "gtgm/losses/byol.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gtgm::train {
namespace {

class LoaderSource : public PretrainSource {
 public:
  LoaderSource(std::shared_ptr<const data::CacheDataset> ds, const config::DataConfig& cfg, data::LoaderOptions o)
      : ds_(ds), loader_(std::move(ds), cfg, o) {}
  data::PretrainBatch next() override { return loader_.next(); }
  json state() const override { return json::parse(loader_.state().to_json()); }
  void restore(const json& state) override { loader_.restore(data::LoaderState::from_json(state.dump())); }
  std::vector<std::string> case_ids() const override {
    std::vector<std::string> ids;
    for (size_t i = 0; i < ds_->size(); ++i) ids.push_back(ds_->at(i).entry.id);
    return ids;
  }

 private:
  std::shared_ptr<const data::CacheDataset> ds_;
  data::PretrainLoader loader_;
};

class RandomSource : public PretrainSource {
 public:
  RandomSource(int64_t batch, std::vector<int64_t> crop, torch::Device device, uint64_t seed, int cases)
      : batch_(batch), crop_(std::move(crop)), device_(device), seed_(seed), cases_(cases) {}
  data::PretrainBatch next() override {
    // One generator per batch index: the stream position is just the index.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(core::derive_seed(seed_, {static_cast<uint64_t>(index_)}));
    std::vector<int64_t> shape = {batch_, 1};
    shape.insert(shape.end(), crop_.begin(), crop_.end());
    data::PretrainBatch b;
    b.view1 = to_device(torch::rand(shape, gen));
    b.view2 = to_device(torch::rand(shape, gen));
    for (int64_t i = 0; i < batch_; ++i)
      b.case_ids.push_back(fmt::format("synthetic_{}", (index_ * batch_ + i) % cases_));
    b.positions = torch::zeros({batch_, 3}, torch::kLong);
    b.corners = torch::zeros({batch_, 3}, torch::kLong);
    ++index_;
    return b;
  }
  json state() const override { return {{"random_source_index", index_}}; }
  void restore(const json& s) override { index_ = s.at("random_source_index").get<int64_t>(); }
  std::vector<std::string> case_ids() const override {
    std::vector<std::string> ids;
    for (int i = 0; i < cases_; ++i) ids.push_back(fmt::format("synthetic_{}", i));
    return ids;
  }

 private:
  // Pinned + non-blocking on CUDA, like the loader: a pageable copy would synchronise the host with
  // the device once per batch, and the bench measures the step alone.
  torch::Tensor to_device(const torch::Tensor& t) const {
    return device_.is_cuda() ? t.pin_memory().to(device_, /*non_blocking=*/true) : t.to(device_);
  }

  int64_t batch_;
  std::vector<int64_t> crop_;
  torch::Device device_;
  uint64_t seed_;
  int cases_;
  int64_t index_ = 0;
};

// Several datasets: batch i comes from source i mod K (each keeps its own crop size and stream).
class MixSource : public PretrainSource {
 public:
  explicit MixSource(std::vector<std::unique_ptr<PretrainSource>> sources) : sources_(std::move(sources)) {}
  data::PretrainBatch next() override {
    auto& s = *sources_[static_cast<size_t>(index_ % static_cast<int64_t>(sources_.size()))];
    ++index_;
    return s.next();
  }
  json state() const override {
    json parts = json::array();
    for (const auto& s : sources_) parts.push_back(s->state());
    return {{"mix_index", index_}, {"sources", parts}};
  }
  void restore(const json& state) override {
    GTGM_CHECK(state.at("sources").size() == sources_.size(),
               "loader state holds {} dataset(s) but train.mix_datasets gives {}", state.at("sources").size(),
               sources_.size());
    index_ = state.at("mix_index").get<int64_t>();
    for (size_t i = 0; i < sources_.size(); ++i) sources_[i]->restore(state.at("sources")[i]);
  }
  std::vector<std::string> case_ids() const override {
    std::vector<std::string> ids;
    for (const auto& s : sources_) {
      const auto part = s->case_ids();
      ids.insert(ids.end(), part.begin(), part.end());
    }
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PretrainSource>> sources_;
  int64_t index_ = 0;
};

std::unique_ptr<PretrainSource> make_sources(const PretrainTaskConfig& cfg, const torch::Device& device,
                                             const dist::Context& ctx) {
  if (cfg.train.mix_datasets.empty()) return make_loader_source(cfg.data, cfg.run.seed, device, ctx);
  std::vector<std::unique_ptr<PretrainSource>> sources;
  sources.push_back(make_loader_source(cfg.data, cfg.run.seed, device, ctx));
  for (const auto& file : cfg.train.mix_datasets) {
    sources.push_back(make_loader_source(config::load_config(file).data, cfg.run.seed, device, ctx));
  }
  return std::make_unique<MixSource>(std::move(sources));
}

}  // namespace

std::unique_ptr<PretrainSource> make_loader_source(const config::DataConfig& cfg, int64_t seed,
                                                   const torch::Device& device, const dist::Context& ctx) {
  const fs::path cache = data::resolve_cache_dir(cfg);
  if (!fs::exists(cache / "cache.json")) {
    throw ConfigError(
        fmt::format("no preprocessing cache in {} (cache.json missing): run `gtgm preprocess --config "
                    "...` with the same data: section first (data.cache_dir / data.root)",
                    cache.string()));
  }
  auto ds = data::CacheDataset::open(cache);
  GTGM_CHECK(ds->size() > 0, "preprocessing cache {} holds no cases", cache.string());
  data::LoaderOptions o;
  o.seed = static_cast<uint64_t>(seed);
  o.rank = ctx.rank();
  o.world_size = ctx.world_size();
  o.device = device;
  o.augment = true;
  GTGM_INFO("pretraining data: {} cases from {}", ds->size(), cache.string());
  config::DataConfig data = cfg;
  const std::string filled = data::fill_planned_crop(data, cache);  // data.crop_size: auto
  if (!filled.empty()) GTGM_INFO("{}", filled);
  return std::make_unique<LoaderSource>(std::move(ds), data, o);
}

std::unique_ptr<PretrainSource> make_random_source(int64_t batch_size, const std::vector<int64_t>& crop,
                                                   const torch::Device& device, uint64_t seed, int cases) {
  GTGM_CHECK(batch_size >= 1 && crop.size() == 3 && cases >= 1,
             "random source: need batch >= 1, 3 crop sizes, cases >= 1");
  return std::make_unique<RandomSource>(batch_size, crop, device, seed, cases);
}

PretrainTask::PretrainTask(PretrainTaskConfig cfg, const torch::Device& device, std::unique_ptr<PretrainSource> source)
    : cfg_(std::move(cfg)), device_(device), dist_(dist::global()), source_(std::move(source)) {
  if (!source_) source_ = make_sources(cfg_, device_, dist_);
  // model.in_channels: auto = 1: each view is one channel of a volume (data::PretrainLoader).
  if (cfg_.model.encoder.in_channels == 0) cfg_.model.encoder.in_channels = 1;
  model_ = models::build_gtgm_model(cfg_.model);
  const int64_t embed_dim = model_->encoder()->embed_dim();
  objective_ = losses::GtgmObjective(cfg_.loss, embed_dim);
  root_ = std::make_shared<torch::nn::Module>("PretrainNet");
  root_->register_module("encoder", model_->encoder());
  root_->register_module("vision_proj", model_->vision_proj());
  root_->register_module("text_proj", model_->text_proj());
  root_->register_module("objective", objective_.ptr());
  if (objective_->needs_target_network()) {
    target_ = models::build_encoder(cfg_.model);
    losses::init_target_(*target_, *model_->encoder());
    root_->register_module("target_encoder", target_);
  }

  if (!objective_->uses_text()) {
    text_source_ = "none (loss.vlp_weight = 0: image-only)";
  } else {
    if (cfg_.text.caption_cache.empty()) {
      throw ConfigError(
          "text.caption_cache is empty: the image-text (CLIP) terms need captions; write them with "
          "`gtgm caption` (or set loss.vlp_weight=0 for the image-only ablation)");
    }
    captions_ = text::load_caption_inputs(cfg_.text.caption_cache, cfg_.text.caption_prefix);
    captions_.check_coverage(source_->case_ids(), /*require_all=*/true);
    if (cfg_.text.caption_shuffle && cfg_.text.caption_random)
      throw ConfigError("text.caption_shuffle and text.caption_random are two ablations of the captions: set one");
    if (cfg_.text.caption_random)
      GTGM_INFO(
          "text.caption_random: each crop is paired with one of the {} captions drawn by a hash of its volume "
          "and place (the text says nothing about the crop)",
          captions_.size());
    if (cfg_.text.caption_shuffle) {
      // A random cyclic order of the volumes; each takes the next one's captions: nobody keeps its own.
      std::vector<std::string> ids = source_->case_ids();
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      if (ids.size() < 2)
        throw ConfigError(
            fmt::format("text.caption_shuffle needs at least 2 volumes to exchange captions, got {}", ids.size()));
      data::PyRandom rng(static_cast<uint64_t>(cfg_.run.seed));  // random.seed(run.seed); random.shuffle(ids)
      rng.shuffle(ids);
      for (size_t i = 0; i < ids.size(); ++i) caption_case_[ids[i]] = ids[(i + 1) % ids.size()];
      GTGM_INFO("text.caption_shuffle: each of {} volumes is paired with another volume's captions", ids.size());
    }
    const int64_t want = cfg_.model.text_embed_dim;
    if (!cfg_.text.embedding_cache.empty()) {
      embeddings_ = std::make_unique<text::EmbeddingCache>(text::EmbeddingCache::load(cfg_.text.embedding_cache));
      embeddings_->check_matches(captions_);
      if (embeddings_->dim() != want) {
        throw ConfigError(fmt::format("text.embedding_cache {} holds {}-d embeddings but model.text_embed_dim is {}",
                                      cfg_.text.embedding_cache, embeddings_->dim(), want));
      }
      text_source_ = "embedding cache " + cfg_.text.embedding_cache;
    } else {
      text_encoder_ = text::build_text_encoder(cfg_.text);
      text_encoder_->to(device_);
      if (text_encoder_->dim() != want) {
        throw ConfigError(fmt::format("the text encoder ({}) outputs {}-d embeddings but model.text_embed_dim is {}",
                                      text_encoder_->describe(), text_encoder_->dim(), want));
      }
      if (text_encoder_->frozen()) {
        text_encoder_->eval();  // no dropout in a frozen encoder: its features are fixed
      } else {
        root_->register_module("text_encoder", text_encoder_);
      }
      text_source_ = "text encoder " + text_encoder_->describe();
    }
  }
  root_->to(device_);
  if (text_encoder_ && text_encoder_->frozen()) text_encoder_->eval();
  GTGM_INFO("pretraining model: {} encoder (E = {}), text: {}", model_->encoder()->type(), embed_dim, text_source_);
}

PretrainTask::~PretrainTask() = default;

Batch PretrainTask::next_batch() {
  data::PretrainBatch b = source_->next();
  const int64_t n = b.view1.size(0);
  return {std::move(b), n};
}

torch::Tensor PretrainTask::text_embeddings(const data::PretrainBatch& batch) {
  return caption_embeddings(caption_rows(batch));
}

std::vector<int64_t> PretrainTask::caption_rows(const data::PretrainBatch& batch) const {
  const int64_t n = static_cast<int64_t>(batch.case_ids.size());
  // text.caption_anchor: the crop centre (gtgm's captions describe windows centred on their
  // positions) or the crop corner (the reference's lookup).
  const bool corner = cfg_.text.caption_anchor == config::CaptionAnchor::Corner;
  const torch::Tensor& anchor = corner ? batch.corners : batch.positions;
  GTGM_CHECK(anchor.defined() && anchor.dim() == 2 && anchor.size(0) == n && anchor.size(1) == 3,
             "pretraining batch: {} must be [B, 3] for B = {} case ids, got {}", corner ? "corners" : "positions", n,
             anchor.defined() ? fmt::format("{}", anchor.sizes()) : std::string("none"));
  const torch::Tensor pos = anchor.to(torch::kCPU, torch::kLong).contiguous();
  const auto p = pos.accessor<int64_t, 2>();
  std::vector<int64_t> index(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (cfg_.text.caption_random) {  // a row of the whole cache, fixed by (seed, volume, anchor)
      const uint64_t h = core::derive_seed(static_cast<uint64_t>(cfg_.run.seed),
                                           {core::fnv1a64(batch.case_ids[i]), static_cast<uint64_t>(p[i][0]),
                                            static_cast<uint64_t>(p[i][1]), static_cast<uint64_t>(p[i][2])});
      index[i] = static_cast<int64_t>(h % static_cast<uint64_t>(captions_.size()));
      continue;
    }
    const std::string& id = caption_case_.empty() ? batch.case_ids[i] : caption_case_.at(batch.case_ids[i]);
    index[i] = captions_.nearest(id, {p[i][0], p[i][1], p[i][2]});
  }
  return index;
}

torch::Tensor PretrainTask::caption_embeddings(const std::vector<int64_t>& index) {
  if (embeddings_) return embeddings_->lookup(index).to(device_, torch::kFloat, /*non_blocking=*/device_.is_cuda());
  GTGM_CHECK(text_encoder_, "caption embeddings: no text encoder and no embedding cache (loss.vlp_weight = 0?)");
  std::vector<std::string> texts;
  texts.reserve(index.size());
  for (const int64_t i : index) texts.push_back(captions_.text(i));
  if (text_encoder_->frozen()) {
    torch::NoGradGuard no_grad;
    return text_encoder_->encode(texts).to(torch::kFloat);
  }
  return text_encoder_->encode(texts).to(torch::kFloat);
}

Losses PretrainTask::compute(const Batch& b, const StepContext& ctx) {
  const auto& batch = std::any_cast<const data::PretrainBatch&>(b.value);
  const torch::Tensor view1 = ctx.to_device(batch.view1);  // [B, 1, D, H, W]
  const torch::Tensor view2 = ctx.to_device(batch.view2);
  torch::Tensor text;
  if (objective_->uses_text()) text = text_embeddings(batch);  // [B, text_embed_dim]
  models::GtgmOutput out;
  {
    auto autocast = ctx.autocast();
    if (objective_->uses_text()) {
      out = model_->forward(view1, view2, text);
    } else {
      const auto a = model_->encode_image(view1), c = model_->encode_image(view2);
      out.e1 = a.embedding;
      out.v1 = a.projection;
      out.e2 = c.embedding;
      out.v2 = c.projection;
    }
  }
  // The objective runs in fp32 outside autocast (its matmuls and normalisations need the range).
  losses::GtgmInputs in;
  in.v1 = out.v1.to(torch::kFloat);
  in.v2 = out.v2.to(torch::kFloat);
  in.e1 = out.e1.to(torch::kFloat);
  in.e2 = out.e2.to(torch::kFloat);
  if (out.t.defined()) in.t = out.t.to(torch::kFloat);
  if (target_) {
    torch::NoGradGuard no_grad;
    auto autocast = ctx.autocast();
    in.target_e1 = target_->forward(view1).pooled.to(torch::kFloat);
    in.target_e2 = target_->forward(view2).pooled.to(torch::kFloat);
  }
  losses::LossTerms terms = objective_->forward(in, dist_.distributed() ? &dist_ : nullptr);
  return {terms.total, terms.terms};
}

void PretrainTask::after_step(int64_t step) {
  if (!target_) return;
  const double m = losses::byol_momentum(step, cfg_.train.steps, cfg_.loss.byol_momentum);
  losses::ema_update_(*target_, *model_->encoder(), m);
}

}  // namespace gtgm::train
