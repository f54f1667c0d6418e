#pragma once
/// `gtgm finetune` as a library call: one dataset, one label fraction, one initialisation.
///   cache (preprocessed on first use) -> seeded split (data.split_seed, data.train_fraction or
///   data.fold) -> label-fraction subset of the train part -> SegmentationTask (MSD: Dice+CE) or
///   AffinityTask (CREMI: affinity BCE) -> Trainer with periodic sliding-window validation on the
///   held-out part (best checkpoint = highest mean foreground Dice, or lowest VOI for EM) ->
///   prediction of every held-out case with the best checkpoint, written in the source format and
///   geometry under RUN_DIR/predictions -> `gtgm score` of those against the references
///   (RUN_DIR/predictions/summary.json). Validation and the held-out prediction go through
///   infer::Predictor, as `app::load_predictor` does for new images; the two tasks differ only in a
///   per-task strategy (split, training task, validation, held-out prediction) inside finetune.cpp.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/infer/predictor.h"
#include "gtgm/train/affinity_task.h"
#include "gtgm/train/trainer.h"

namespace gtgm::app {

struct FinetuneOptions {
  /// Encoder initialisation: a pretraining run dir (its best checkpoint), a checkpoint dir, an
  /// `gtgm export` dir or an encoder .safetensors file. Overrides train.init; "" = train.init.
  std::string pretrained;
  /// Run dir (or checkpoint dir) to continue; "" = a fresh run in run.dir.
  std::string resume;
  /// Stop with a checkpoint once this many steps are done (-1 = train.steps).
  int64_t stop_after = -1;
  /// After training: predict and score the held-out cases with the best checkpoint.
  bool predict = true;
};

struct FinetuneResult {
  std::filesystem::path run_dir;
  train::TrainResult train;
  /// Checkpoint used for prediction (best on validation; the last one without validation).
  std::filesystem::path best_checkpoint;
  /// RUN_DIR/predictions and its summary.json (empty when options.predict is false or training
  /// was interrupted).
  std::filesystem::path predictions_dir;
  std::filesystem::path summary_json;
  /// Means over held-out cases of each scored metric ("dice", "hd95", "nsd" = foreground-class
  /// means; "voi", "voi_split", "voi_merge", "arand" for EM).
  std::map<std::string, double> mean_metrics;
  int64_t train_cases = 0;  ///< labelled cases used for training (after the label fraction)
  int64_t test_cases = 0;   ///< held-out cases predicted and scored
  /// "random" or "<source>: N tensors loaded, M missing (decoder/head), K unexpected (projections)".
  std::string init_report;
};

/// The periodic validation of segmentation fine-tuning: `predictor` segments the first `max_cases`
/// cases of `test` (0 = all) on the cache grid, Dice per foreground class against the cached labels
/// (a class empty in both is left out, metrics.h), averaged over cases per class and then over
/// classes. Metrics "dice" (= score, higher is better) and "dice_<k>".
train::Validation validate_segmentation(const data::CacheDataset& test, const infer::Predictor& predictor,
                                        int64_t num_classes, size_t max_cases = 0);

/// The periodic validation of EM fine-tuning: `predictor` (an affinity predictor: sigmoid ->
/// watershed + agglomeration) segments the `test` slices of each volume -> VOI and adapted Rand
/// error against the cached neuron ids (label 0 ignored). Score = mean VOI (lower is better);
/// metrics "voi", "voi_split", "voi_merge", "arand".
train::Validation validate_affinity(const data::CacheDataset& volumes, const std::vector<train::SliceRange>& test,
                                    const infer::Predictor& predictor, size_t max_cases = 0);

/// Fine-tunes per `cfg` (finetune:, data:, model:, optim:, train:, eval: sections).
FinetuneResult run_finetune(const config::Config& cfg, const FinetuneOptions& options);

/// `gtgm finetune --fold all`, as nnU-Net's five folds: fine-tunes data.fold = 0 .. data.num_folds
/// - 1, fold k in run.dir/fold_<k>, so that `gtgm predict -m run.dir` ensembles them. Resumable by
/// running it again: a fold that finished (its finetune.json, or its last checkpoint at
/// train.steps with options.predict off) is kept, one with checkpoints is resumed, the rest start.
/// Writes run.dir/folds.json (per-fold and mean metrics). options.resume must be empty.
std::vector<FinetuneResult> run_finetune_folds(const config::Config& cfg, const FinetuneOptions& options);

}  // namespace gtgm::app
