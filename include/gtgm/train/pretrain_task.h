#pragma once
/// GTGM pretraining as a train::Task: two augmented views -> shared image encoder -> E1, E2
/// (embed_dim) -> vision_proj -> v1, v2; the caption nearest to each crop -> text embedding (the
/// text-embedding cache, or the frozen text encoder under no-grad) -> text_proj -> t;
/// loss = losses::GtgmObjective (clip(v1,t) + clip(v2,t) + w * barlow(E1,E2), from `loss:`).
#include <torch/torch.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/config/loss_config.h"
#include "gtgm/config/model_config.h"
#include "gtgm/config/run_config.h"
#include "gtgm/config/text_config.h"
#include "gtgm/config/train_config.h"
#include "gtgm/data/loader.h"
#include "gtgm/dist/context.h"
#include "gtgm/losses/objective.h"
#include "gtgm/models/registry.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/text/embedding_cache.h"
#include "gtgm/text/text_encoder.h"
#include "gtgm/train/task.h"

namespace gtgm::train {

/// Where pretraining batches come from: the cache loader, or (bench, tests) generated batches.
class PretrainSource {
 public:
  virtual ~PretrainSource() = default;
  /// The next batch; views [B, 1, D, H, W] float in [0, 1] (on the training device or the CPU).
  virtual data::PretrainBatch next() = 0;
  /// Position in the stream, for exact resume.
  virtual nlohmann::json state() const = 0;
  virtual void restore(const nlohmann::json& state) = 0;
  /// Volume ids the batches can name (for the caption-coverage check).
  virtual std::vector<std::string> case_ids() const = 0;
};

/// The pretraining loader over the preprocessing cache of `cfg` (data::resolve_cache_dir),
/// sharded by `ctx` rank / world size, seeded by `seed` (run.seed). Throws naming the cache dir
/// when it has no cache.json (run `gtgm preprocess` first).
std::unique_ptr<PretrainSource> make_loader_source(const config::DataConfig& cfg, int64_t seed,
                                                   const torch::Device& device, const dist::Context& ctx);

/// Random views (uniform [0, 1], from a generator seeded by `seed`, resumable) of `crop` with
/// case ids "synthetic_0".."synthetic_{cases-1}" and positions (0, 0, 0): the bench and tests.
std::unique_ptr<PretrainSource> make_random_source(int64_t batch_size, const std::vector<int64_t>& crop,
                                                   const torch::Device& device, uint64_t seed, int cases = 4);

/// The config sections PretrainTask reads (app::pretrain_task_config fills it from a whole config).
struct PretrainTaskConfig {
  config::RunConfig run;      ///< seed
  config::DataConfig data;    ///< the loader (when no source is given)
  config::ModelConfig model;  ///< the GtgmModel
  config::TextConfig text;    ///< caption and embedding caches, text encoder
  config::LossConfig loss;    ///< the objective
  config::TrainConfig train;  ///< steps (BYOL momentum), mix_datasets
};

class PretrainTask : public Task {
 public:
  /// Builds the model (model:), the objective (loss:), the text side (text: caption_cache plus
  /// embedding_cache or the text encoder; nothing when loss.vlp_weight = 0) on `device`, and takes
  /// batches from `source` (make_loader_source when null). Every mistake in the text setup is a
  /// ConfigError naming the key (missing caption cache, embedding width != model.text_embed_dim,
  /// captions missing for some volumes).
  PretrainTask(PretrainTaskConfig cfg, const torch::Device& device, std::unique_ptr<PretrainSource> source = nullptr);
  ~PretrainTask() override;

  std::string name() const override { return "pretrain"; }
  /// Submodules "encoder", "vision_proj", "text_proj" (the GtgmModel's), "objective" (logit scale,
  /// predictor), and when present "target_encoder" (BYOL EMA target) and "text_encoder" (only
  /// when some of its layers train).
  torch::nn::Module& module() override { return *root_; }
  Batch next_batch() override;
  Losses compute(const Batch& batch, const StepContext& ctx) override;
  void after_step(int64_t step) override;
  nlohmann::json state() const override { return source_->state(); }
  void restore(const nlohmann::json& state) override { source_->restore(state); }

  models::GtgmModel& model() { return model_; }
  losses::GtgmObjective& objective() { return objective_; }
  /// The text embeddings [B, text_embed_dim] (float, on the device) of a batch's captions:
  /// caption_embeddings(caption_rows(batch)).
  torch::Tensor text_embeddings(const data::PretrainBatch& batch);
  /// The caption cache rows of a batch's crops: the caption nearest to each crop's anchor
  /// (text.caption_anchor) in its volume, or in its partner volume with text.caption_shuffle;
  /// with text.caption_random a row of the whole cache drawn by a hash of (run.seed, volume, anchor).
  std::vector<int64_t> caption_rows(const data::PretrainBatch& batch) const;
  /// The text embeddings [N, text_embed_dim] (float, on the device) of caption cache rows (one
  /// encoder batch: rows with the same text get the same embedding).
  torch::Tensor caption_embeddings(const std::vector<int64_t>& rows);
  /// The caption cache (empty without text).
  const text::CaptionCache& captions() const { return captions_; }
  /// The text encoder (null with an embedding cache or without text).
  const std::shared_ptr<text::TextEncoder>& text_encoder() const { return text_encoder_; }
  /// "embedding cache <path>" / "text encoder <describe()> (frozen)" / "none (loss.vlp_weight = 0)".
  const std::string& text_source() const { return text_source_; }

 private:
  PretrainTaskConfig cfg_;
  torch::Device device_;
  dist::Context dist_;
  std::unique_ptr<PretrainSource> source_;
  std::shared_ptr<torch::nn::Module> root_;
  models::GtgmModel model_{nullptr};
  losses::GtgmObjective objective_{nullptr};
  std::shared_ptr<models::EncoderImpl> target_;
  text::CaptionCache captions_;
  /// text.caption_shuffle: case id -> the case whose captions it is paired with (empty when off).
  std::map<std::string, std::string> caption_case_;
  std::unique_ptr<text::EmbeddingCache> embeddings_;
  std::shared_ptr<text::TextEncoder> text_encoder_;
  std::string text_source_;
};

}  // namespace gtgm::train
