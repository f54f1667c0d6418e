#pragma once
/// Segmentation fine-tuning as a train::Task (PAPER.md, fine-tuning protocol): crops of labelled
/// cached cases (data::SegLoader: foreground oversampling + segmentation augmentation) ->
/// SegmentationModel (the pretraining encoder + UNet decoder + head) -> Dice + cross-entropy
/// (deep-supervision weighted when model.deep_supervision). Validation (sliding-window inference
/// over held-out cases) lives in eval/, above train/, so it is injected as a function.
///
/// Encoder initialisation (init_encoder): the encoder's tensors are loaded, non-strictly, from a
/// pretraining run or checkpoint, a `gtgm export` folder, a .safetensors file or a torch.save'd
/// dict such as the export's encoder.pt; the decoder and
/// head stay randomly initialised. Loading nothing, or a tensor of the wrong shape, is an error,
/// with one exception: a stem convolution that differs only in its input channels (pretrained on
/// 1-channel CT, fine-tuned on 4-channel MRI) is adapted as timm's adapt_input_conv does.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/loader.h"
#include "gtgm/losses/segmentation.h"
#include "gtgm/models/registry.h"
#include "gtgm/train/task.h"

namespace gtgm::train {

/// What init_encoder loaded.
struct EncoderInitReport {
  std::string source;           ///< the file the tensors came from
  int64_t loaded = 0;           ///< encoder tensors copied from the source
  int64_t missing_encoder = 0;  ///< encoder tensors the source lacks (left randomly initialised)
  int64_t missing_other = 0;    ///< decoder / head tensors of the model (always newly initialised)
  int64_t unexpected = 0;       ///< source tensors that are not encoder tensors (projections, objective, ...)
  /// "" or "stem 'conv1.weight': 1 -> 4 input channels (channel sum repeated, scaled by 1/4)".
  std::string adapted;
  std::vector<std::string> missing_keys, unexpected_keys;  ///< the names (encoder-relative / as stored)
  /// One line: "<source>: N tensors loaded, M missing (K decoder/head, J encoder), U unexpected
  /// (projections)[; adapted ...]".
  std::string text() const;
};

/// The weights file and key prefix an initialisation path names: a .safetensors file or a .pt
/// dict (torch.save / `gtgm export`'s encoder.pt; keys "encoder.*" when any has that prefix, else
/// encoder-relative), a `gtgm export` dir
/// (encoder.safetensors), a checkpoint dir (model.safetensors, "encoder.*") or a run dir (its best
/// checkpoint, or the newest valid one when no best was recorded). Throws naming the path.
struct InitSource {
  std::filesystem::path file;
  std::string prefix;  ///< "encoder." or ""
};
InitSource resolve_init_source(const std::filesystem::path& path);

/// Loads the encoder tensors of `path` into `encoder` (non-strict; see the file comment).
/// `other_tensors` = number of decoder/head tensors of the whole model, for the report.
/// Throws gtgm::Error naming the file when no tensor loads or a shape differs (other than the
/// adaptable stem channels).
EncoderInitReport init_encoder_from(models::EncoderImpl& encoder, const std::filesystem::path& path,
                                    int64_t other_tensors = 0);

/// init_encoder_from for the encoder of a whole segmentation model (its decoder and head tensors
/// counted as "missing" in the report), then moves the model to `device` and logs the report.
EncoderInitReport init_model_encoder(models::SegmentationModelImpl& model, const std::filesystem::path& path,
                                     const torch::Device& device);

/// timm's adapt_input_conv generalised: a conv weight [O, C_old, *k] -> [O, C_new, *k] whose every
/// input channel is sum_c(weight[:, c]) / C_new, so a C_new-channel input with identical channels
/// gives the response the 1-channel model gave.
torch::Tensor adapt_input_conv(const torch::Tensor& weight, int64_t new_channels);

/// Periodic validation, supplied by the caller (app::run_finetune: sliding-window Dice).
using ValidateFn = std::function<Validation(int64_t step, const StepContext& ctx)>;

/// The Dice+CE options of the `finetune:` section.
losses::DiceCeOptions dice_ce_options(const config::FinetuneConfig& cfg);

/// The config sections the fine-tuning tasks read (app::finetune_task_config fills it from a whole
/// config).
struct FinetuneTaskConfig {
  config::RunConfig run;            ///< seed
  config::DataConfig data;          ///< crops, batch size, loader
  config::ModelConfig model;        ///< the SegmentationModel
  config::FinetuneConfig finetune;  ///< loss weights, affinity balance
};

/// What the segmentation and affinity tasks share: the config sections, the device, a SegmentationModel
/// whose head the task names, the injected validation and the encoder initialisation.
class FinetuneTaskBase : public Task {
 public:
  /// The SegmentationModel: "encoder.*", "decoder.*", "head.*".
  torch::nn::Module& module() override { return *model_; }
  bool has_validation() const override { return static_cast<bool>(validate_); }
  Validation validate(int64_t step, const StepContext& ctx) override { return validate_(step, ctx); }

  /// Initialises the encoder from `path` (init_model_encoder) and logs the report.
  EncoderInitReport init_encoder(const std::filesystem::path& path);
  models::SegmentationModel& model() { return model_; }

 protected:
  /// Throws ConfigError unless model.head is `task` (the finetune.task it serves; `hint` ends the
  /// message), then builds the model on `device`.
  FinetuneTaskBase(FinetuneTaskConfig cfg, const torch::Device& device, ValidateFn validate, const std::string& task,
                   const std::string& hint);

  FinetuneTaskConfig cfg_;
  torch::Device device_;
  models::SegmentationModel model_{nullptr};
  ValidateFn validate_;
};

class SegmentationTask : public FinetuneTaskBase {
 public:
  /// Builds the segmentation model (model:, head must be "segmentation") on `device` and a
  /// SegLoader over `train_cases` (every case needs a label; seed run.seed). `validate` may be
  /// null (no validation).
  SegmentationTask(FinetuneTaskConfig cfg, const torch::Device& device,
                   std::shared_ptr<const data::CacheDataset> train_cases, ValidateFn validate = nullptr);
  ~SegmentationTask() override;

  std::string name() const override { return "segmentation"; }
  Batch next_batch() override;
  Losses compute(const Batch& batch, const StepContext& ctx) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;

 private:
  std::unique_ptr<data::SegLoader> loader_;
  losses::DiceCeOptions loss_;
};

}  // namespace gtgm::train
