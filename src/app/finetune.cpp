#include "gtgm/app/finetune.h"

#include <nlohmann/json.hpp>
#include <numeric>

#include "gtgm/app/dataset_checks.h"
#include "gtgm/app/load_predictor.h"
#include "gtgm/app/run_session.h"
#include "gtgm/app/suite.h"
#include "gtgm/app/train_setup.h"
#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/build_info.h"
#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/seed.h"
#include "gtgm/data/manifest.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/spatial.h"
#include "gtgm/data/split.h"
#include "gtgm/dist/collectives.h"
#include "gtgm/dist/context.h"
#include "gtgm/infer/instance_metrics.h"
#include "gtgm/infer/metrics.h"
#include "gtgm/infer/predict.h"
#include "gtgm/infer/predictor.h"
#include "gtgm/infer/score.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/io/volume_io.h"
#include "gtgm/train/affinity_task.h"
#include "gtgm/train/checkpoint.h"
#include "gtgm/train/segmentation_task.h"

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace gtgm::app {
namespace {

constexpr const char* kInitReportFile = "init_report.txt";

fs::path ensure_cache(const config::Config& cfg, const dist::Context& ctx) {
  const fs::path cache = data::resolve_cache_dir(cfg.data);
  if (!fs::exists(cache / "cache.json")) {
    if (ctx.is_rank0()) {
      GTGM_INFO("finetune: no preprocessing cache in {} (cache.json missing): preprocessing {} now", cache.string(),
                cfg.data.root);
      const data::PreprocessResult r = data::run_preprocess(cfg.data, cfg.run.seed);
      GTGM_INFO("finetune: preprocessed {} case(s) ({} reused) into {}", r.written, r.reused, r.cache_dir.string());
    }
    if (ctx.distributed()) dist::barrier(ctx);
  }
  return cache;
}

// The z slab [z0, z1) of a cached array [C, D, H, W] as a contiguous float tensor.
torch::Tensor slab_of(const torch::Tensor& t, const train::SliceRange& r) {
  return t.narrow(1, r.z_begin, r.z_end - r.z_begin).to(torch::kFloat).contiguous();
}

// The predictor of the model being trained. Periodic validation uses no TTA (it ranks
// checkpoints; TTA is for the final prediction).
infer::Predictor training_predictor(const config::Config& cfg, models::SegmentationModel model,
                                    const train::StepContext& ctx, bool validation) {
  infer::PredictorOptions o = predictor_options(cfg, ctx.device);
  if (validation) o.window.mirror_tta = false;
  return infer::Predictor(network_forward(model, ctx.device, ctx.precision, ctx.channels_last), o);
}

// What differs between the fine-tuning tasks: the split of the labelled data, the training task,
// the periodic validation and the prediction of the held-out data for scoring.
class FinetuneKind {
 public:
  virtual ~FinetuneKind() = default;
  /// Opens the cache and splits it; fills result.train_cases / test_cases.
  virtual void split(const config::Config& cfg, const fs::path& cache, const data::Manifest& manifest,
                     FinetuneResult& result) = 0;
  virtual std::unique_ptr<train::FinetuneTaskBase> make_task(const config::Config& cfg, const torch::Device& device,
                                                             train::ValidateFn validate) const = 0;
  virtual train::Validation validate(const config::Config& cfg, const infer::Predictor& predictor) const = 0;
  /// Predicts every held-out case into `so.pred` and returns the prediction/reference pairs to
  /// score (sets so.ref and so.labels as the task needs).
  virtual std::vector<infer::CasePair> predict_held_out(const config::Config& cfg, const infer::Predictor& predictor,
                                                        const fs::path& run_dir, infer::ScoreOptions& so) const = 0;
  /// The metrics of eval.metrics that apply (at least the task's default).
  std::vector<std::string> score_metrics(const config::Config& cfg) const {
    std::vector<std::string> out;
    for (const auto& m : cfg.eval.metrics) {
      if ((m == "voi" || m == "arand") == instance_metrics()) out.push_back(m);
    }
    if (out.empty())
      out = instance_metrics() ? std::vector<std::string>{"voi", "arand"} : std::vector<std::string>{"dice"};
    return out;
  }

 protected:
  virtual bool instance_metrics() const = 0;
};

// MSD / nnU-Net segmentation: a seeded case split, the label-fraction subset of its train part.
class SegmentationKind : public FinetuneKind {
 public:
  void split(const config::Config& cfg, const fs::path& cache, const data::Manifest& manifest,
             FinetuneResult& result) override {
    const data::Split split = data::split_from_config(manifest.listed_ids(), cfg.data);
    const std::vector<std::string> train_ids =
        data::label_fraction_subset(split, cfg.data.label_fraction, data::split_options(cfg.data));
    GTGM_CHECK(!split.test.empty(), "finetune: the split of {} leaves no held-out case (data.train_fraction = {})",
               cfg.data.root, cfg.data.train_fraction);
    train_ = data::CacheDataset::open(cache, train_ids, /*need_labels=*/true);
    test_ = data::CacheDataset::open(cache, split.test, /*need_labels=*/true);
    result.train_cases = static_cast<int64_t>(train_ids.size());
    result.test_cases = static_cast<int64_t>(split.test.size());
    GTGM_INFO("finetune: {} cases: {} train (label fraction {} of {}: {} train cases), {} held out (seed {}, {} order, "
              "{} sizes{})",
              manifest.training.size(), train_ids.size(), cfg.data.label_fraction,
              config::to_string(cfg.data.label_fraction_of), split.train.size(), split.test.size(),
              cfg.data.split_seed, config::to_string(cfg.data.split_order), config::to_string(cfg.data.split_sizes),
              cfg.data.fold >= 0 ? fmt::format(", fold {}/{}", cfg.data.fold, cfg.data.num_folds)
                                 : fmt::format(", train fraction {}", cfg.data.train_fraction));
  }
  std::unique_ptr<train::FinetuneTaskBase> make_task(const config::Config& cfg, const torch::Device& device,
                                                     train::ValidateFn validate) const override {
    return std::make_unique<train::SegmentationTask>(finetune_task_config(cfg), device, train_, std::move(validate));
  }
  train::Validation validate(const config::Config& cfg, const infer::Predictor& predictor) const override {
    return validate_segmentation(*test_, predictor, cfg.model.num_classes,
                                 static_cast<size_t>(cfg.finetune.validate_cases));
  }
  std::vector<infer::CasePair> predict_held_out(const config::Config& cfg, const infer::Predictor& predictor,
                                                const fs::path&, infer::ScoreOptions& so) const override {
    for (int64_t k = 1; k < cfg.model.num_classes; ++k) so.labels.push_back(k);
    std::vector<infer::CasePair> pairs;
    for (size_t i = 0; i < test_->size(); ++i) {
      const auto& c = test_->at(i);
      GTGM_CHECK(!c.entry.source_label.empty(),
                 "finetune: held-out case '{}' has no source label file to score against", c.entry.id);
      infer::CasePair p{c.entry.id, infer::cached_prediction_path(so.pred, c.entry), c.entry.source_label};
      infer::write_prediction(predictor.predict_cached(c), p.pred);
      GTGM_INFO("predicted {} -> {}", c.entry.id, p.pred.string());
      pairs.push_back(std::move(p));
    }
    return pairs;
  }

 protected:
  bool instance_metrics() const override { return false; }

 private:
  std::shared_ptr<const data::CacheDataset> train_, test_;
};

// CREMI affinities: every volume is split along z (first slices train, the rest test).
class AffinityKind : public FinetuneKind {
 public:
  void split(const config::Config& cfg, const fs::path& cache, const data::Manifest& manifest,
             FinetuneResult& result) override {
    if (cfg.finetune.em_train_z >= 1.0) {
      throw ConfigError(
          fmt::format("finetune.em_train_z = {} leaves no test slices: use a fraction below 1 (CREMI: 0.6)",
                      cfg.finetune.em_train_z));
    }
    volumes_ = data::CacheDataset::open(cache, manifest.ids(), /*need_labels=*/true);
    for (size_t i = 0; i < volumes_->size(); ++i) {
      const int64_t depth = volumes_->at(i).image.tensor().size(1);
      train_slices_.push_back(train::em_train_slices(depth, cfg.finetune.em_train_z, cfg.data.label_fraction));
      test_slices_.push_back(train::em_test_slices(depth, cfg.finetune.em_train_z));
      GTGM_INFO("finetune: volume {}: train slices [{}, {}), test slices [{}, {}) of {}", volumes_->at(i).entry.id,
                train_slices_.back().z_begin, train_slices_.back().z_end, test_slices_.back().z_begin,
                test_slices_.back().z_end, depth);
    }
    result.train_cases = result.test_cases = static_cast<int64_t>(volumes_->size());
  }
  std::unique_ptr<train::FinetuneTaskBase> make_task(const config::Config& cfg, const torch::Device& device,
                                                     train::ValidateFn validate) const override {
    return std::make_unique<train::AffinityTask>(finetune_task_config(cfg), device, volumes_, train_slices_,
                                                 std::move(validate));
  }
  train::Validation validate(const config::Config& cfg, const infer::Predictor& predictor) const override {
    return validate_affinity(*volumes_, test_slices_, predictor, static_cast<size_t>(cfg.finetune.validate_cases));
  }
  // Predictions cover the test slices (0 elsewhere); the references are the source neuron ids with
  // the training slices set to 0, which VOI/ARAND ignore (ref_ignore {0}).
  std::vector<infer::CasePair> predict_held_out(const config::Config&, const infer::Predictor& predictor,
                                                const fs::path& run_dir, infer::ScoreOptions& so) const override {
    const fs::path ref_dir = run_dir / "test_references";
    fs::create_directories(ref_dir);
    so.ref = ref_dir;
    std::vector<infer::CasePair> pairs;
    for (size_t i = 0; i < volumes_->size(); ++i) {
      const auto& c = volumes_->at(i);
      const auto& h = c.image.header();
      const train::SliceRange& r = test_slices_[i];
      const torch::Tensor seg = predictor.segment(slab_of(c.image.tensor(), r), h.geometry.spacing_dhw());
      torch::Tensor full = torch::zeros({1, h.shape[1], h.shape[2], h.shape[3]}, torch::kLong);
      full[0].narrow(0, r.z_begin, seg.size(0)).copy_(seg);
      torch::Tensor mask = torch::zeros({1, h.shape[1], h.shape[2], h.shape[3]}, torch::kUInt8);
      mask[0].narrow(0, r.z_begin, seg.size(0)).fill_(1);
      io::Volume pred = data::restore_to_source(full, h, data::RestoreInterp::Nearest, 0.0);
      const io::Volume in_test = data::restore_to_source(mask, h, data::RestoreInterp::Nearest, 0.0);
      io::Volume ref = io::read_volume(c.entry.source_label);
      GTGM_CHECK(ref.data.sizes() == in_test.data.sizes(),
                 "finetune: case '{}': source labels {} have shape {}, the cache maps back to {}", c.entry.id,
                 c.entry.source_label, ref.data.sizes(), in_test.data.sizes());
      ref.data = ref.data.to(torch::kLong) * in_test.data.to(torch::kLong);
      ref.geometry = pred.geometry;
      infer::CasePair p{c.entry.id, so.pred / (c.entry.id + ".h5"), ref_dir / (c.entry.id + ".h5")};
      infer::write_prediction(pred, p.pred);
      infer::write_prediction(ref, p.ref);
      GTGM_INFO("predicted {} -> {}", c.entry.id, p.pred.string());
      pairs.push_back(std::move(p));
    }
    return pairs;
  }

 protected:
  bool instance_metrics() const override { return true; }

 private:
  std::shared_ptr<const data::CacheDataset> volumes_;
  std::vector<train::SliceRange> train_slices_, test_slices_;
};

std::unique_ptr<FinetuneKind> make_finetune_kind(const config::Config& cfg) {
  if (prediction_kind(cfg) == infer::PredictionKind::Affinity) return std::make_unique<AffinityKind>();
  return std::make_unique<SegmentationKind>();
}

}  // namespace

train::Validation validate_segmentation(const data::CacheDataset& test, const infer::Predictor& predictor,
                                        int64_t num_classes, size_t max_cases) {
  GTGM_CHECK(num_classes >= 2, "validation: need at least 2 classes, got {}", num_classes);
  std::vector<std::vector<double>> per_class(static_cast<size_t>(num_classes - 1));
  std::vector<double> with_background;  // per case, the reference's DiceMetric(include_background=True)
  std::vector<int64_t> all_classes(static_cast<size_t>(num_classes));
  std::iota(all_classes.begin(), all_classes.end(), 0);
  const size_t n = max_cases > 0 ? std::min(max_cases, test.size()) : test.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& c = test.at(i);
    GTGM_CHECK(c.label.valid(), "validation: case '{}' has no label in the cache", c.entry.id);
    const torch::Tensor pred = predictor.segment(c.image.tensor(), c.image.header().geometry.spacing_dhw());
    const torch::Tensor ref = c.label.tensor()[0];  // [D, H, W]
    for (int64_t k = 1; k < num_classes; ++k) {
      per_class[static_cast<size_t>(k - 1)].push_back(infer::dice(pred.eq(k), ref.eq(k)));  // NaN when both empty
    }
    with_background.push_back(infer::case_dice_with_background(pred, ref.to(torch::kLong), all_classes));
  }
  train::Validation v;
  std::vector<double> means;
  for (int64_t k = 1; k < num_classes; ++k) {
    means.push_back(infer::nan_mean(per_class[static_cast<size_t>(k - 1)]));
    v.metrics.emplace_back(fmt::format("dice_{}", k), means.back());
  }
  v.score = infer::nan_mean(means);
  v.metrics.insert(v.metrics.begin(), {"dice", v.score});
  v.metrics.emplace_back(infer::kDiceWithBackground, infer::nan_mean(with_background));
  v.higher_is_better = true;
  return v;
}

train::Validation validate_affinity(const data::CacheDataset& volumes, const std::vector<train::SliceRange>& test,
                                    const infer::Predictor& predictor, size_t max_cases) {
  GTGM_CHECK(test.size() == volumes.size(), "validation: {} slice ranges for {} volumes", test.size(), volumes.size());
  GTGM_CHECK(predictor.options().kind == infer::PredictionKind::Affinity,
             "validation: EM validation needs an affinity predictor");
  std::vector<double> voi, split, merge, arand;
  const size_t n = max_cases > 0 ? std::min(max_cases, volumes.size()) : volumes.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& c = volumes.at(i);
    const torch::Tensor seg =
        predictor.segment(slab_of(c.image.tensor(), test[i]), c.image.header().geometry.spacing_dhw());
    const torch::Tensor ref = slab_of(c.label.tensor(), test[i])[0].to(torch::kLong);
    const infer::VoiResult r = infer::variation_of_information(seg, ref, {0});
    voi.push_back(r.total());
    split.push_back(r.split);
    merge.push_back(r.merge);
    arand.push_back(infer::adapted_rand_error(seg, ref, {0}).error);
  }
  train::Validation v;
  v.score = infer::nan_mean(voi);
  v.higher_is_better = false;
  v.metrics = {{"voi", v.score},
               {"voi_split", infer::nan_mean(split)},
               {"voi_merge", infer::nan_mean(merge)},
               {"arand", infer::nan_mean(arand)}};
  return v;
}

FinetuneResult run_finetune(const config::Config& cfg_in, const FinetuneOptions& options) {
  config::Config cfg = cfg_in;
  if (!options.pretrained.empty()) cfg.train.init = options.pretrained;
  if (prediction_kind(cfg) == infer::PredictionKind::Affinity && cfg.eval.mirror_tta) {
    throw ConfigError(
        "eval.mirror_tta: true is not defined for finetune.task: affinity (a flipped affinity prediction is "
        "shifted by one voxel); set eval.mirror_tta: false");
  }
  // The keys that follow the dataset are filled from dataset.json; a config that contradicts it is
  // refused before the run dir is touched.
  const bool segmentation = prediction_kind(cfg) == infer::PredictionKind::Segmentation;
  const data::Manifest manifest = data::load_manifest(cfg.data);
  std::vector<std::string> filled = resolve_dataset_auto(cfg, manifest, segmentation);
  check_config_against_dataset(cfg, manifest, segmentation);
  FinetuneResult result;
  result.run_dir = cfg.run.dir;
  const fs::path run_dir = cfg.run.dir;
  const RunSession session(cfg, "finetune", /*resuming=*/!options.resume.empty(),
                           "task " + config::to_string(cfg.finetune.task) + ", ");
  const torch::Device device = session.device;
  const dist::Context& ctx = session.ctx;

  // Data: cache (preprocessed on first use), the task's split, the label fraction. The plan is kept
  // in the run dir, so that the run predicts new images without its cache (load_predictor).
  const fs::path cache = ensure_cache(cfg, ctx);
  if (std::string crop = resolve_planned_crop(cfg, cache); !crop.empty()) {
    filled.push_back(std::move(crop));
    if (ctx.is_rank0()) config::write_resolved(cfg, run_dir);  // the run dir's config names the planned patch
  }
  for (const auto& line : filled) GTGM_INFO("{}", line);
  if (segmentation) check_labels_fit_classes(cfg, cache);
  GTGM_CHECK(!manifest.training.empty(), "finetune: the dataset in {} lists no labelled cases", cfg.data.root);
  if (ctx.is_rank0() && fs::exists(cache / "plan.json"))
    core::atomic_write_text(run_dir / "plan.json", core::read_text_file(cache / "plan.json"));
  const std::unique_ptr<FinetuneKind> kind = make_finetune_kind(cfg);
  kind->split(cfg, cache, manifest, result);

  // Task: the model exists only once the task does; validation reads it through this holder.
  models::SegmentationModel model{nullptr};
  const FinetuneKind& k = *kind;
  train::ValidateFn validate = [&model, &k, &cfg](int64_t, const train::StepContext& c) {
    return k.validate(cfg, training_predictor(cfg, model, c, /*validation=*/true));
  };
  const std::unique_ptr<train::FinetuneTaskBase> task = kind->make_task(cfg, device, validate);
  model = task->model();
  if (!options.resume.empty()) {
    const fs::path saved = run_dir / kInitReportFile;
    result.init_report =
        fs::exists(saved) ? core::read_text_file(saved) : std::string("resumed (no init report saved)");
    GTGM_INFO("encoder init (from the resumed run): {}", result.init_report);
  } else {
    result.init_report = cfg.train.init.empty() ? std::string("random") : task->init_encoder(cfg.train.init).text();
    if (cfg.train.init.empty()) GTGM_INFO("encoder init: random (no --pretrained / train.init)");
    if (ctx.is_rank0()) core::atomic_write_text(run_dir / kInitReportFile, result.init_report);
  }

  train::TrainerOptions to;
  to.stop_after = options.stop_after;
  train::Trainer trainer(trainer_config(cfg), *task, device, to);
  if (!options.resume.empty()) trainer.resume(options.resume);
  result.train = trainer.run();
  GTGM_INFO("fine-tuning {} at step {} after {:.1f}s", result.train.interrupted ? "stopped" : "finished",
            result.train.step, result.train.seconds);

  // The checkpoint to predict with: the best on validation, else the newest.
  const nlohmann::json best = train::read_best(run_dir);
  if (!best.is_null()) {
    result.best_checkpoint = train::checkpoint_dir(run_dir, best.at("step").get<int64_t>());
  } else if (auto latest = train::latest_valid_checkpoint(run_dir)) {
    result.best_checkpoint = *latest;
  }
  if (result.train.interrupted || !options.predict || !cfg.finetune.predict_test || !ctx.is_rank0()) return result;
  GTGM_CHECK(!result.best_checkpoint.empty(), "finetune: {} holds no checkpoint to predict with",
             train::checkpoints_root(run_dir).string());
  GTGM_INFO("predicting {} held-out case(s) with {}{}", result.test_cases, result.best_checkpoint.string(),
            best.is_null() ? ""
                           : fmt::format(" (best validation score {:.5g} at step {})", best.at("score").get<double>(),
                                         best.at("step").get<int64_t>()));
  io::load_state_into(task->module(), io::load_safetensors(result.best_checkpoint / "model.safetensors"),
                      /*strict=*/true, (result.best_checkpoint / "model.safetensors").string());
  task->module().eval();
  torch::NoGradGuard no_grad;
  const infer::Predictor predictor = training_predictor(cfg, model, trainer.context(), /*validation=*/false);
  result.predictions_dir = run_dir / "predictions";
  fs::create_directories(result.predictions_dir);
  infer::ScoreOptions so;
  so.metrics = kind->score_metrics(cfg);
  so.nsd_tolerance = cfg.eval.nsd_tolerance_mm;
  so.pred = result.predictions_dir;
  so.ref = cfg.data.root;
  so.output = result.predictions_dir / "summary.json";
  const std::vector<infer::CasePair> pairs = kind->predict_held_out(cfg, predictor, run_dir, so);
  const infer::ScoreSummary summary = infer::score_pairs(pairs, so);
  result.summary_json = so.output;
  result.mean_metrics = summary.mean;
  GTGM_INFO("finetune scores over {} held-out case(s):\n{}", pairs.size(), infer::format_score_table(summary));
  try {
    const auto pngs = write_overlays(cfg, result.summary_json, run_dir / "overlays", "", OverlayOptions{});
    if (!pngs.empty()) GTGM_INFO("finetune: {} overlay PNG(s) in {}", pngs.size(), (run_dir / "overlays").string());
  } catch (const std::exception& e) {
    GTGM_WARN("finetune: overlays not written: {}", e.what());
  }

  ordered_json j;
  j["task"] = config::to_string(cfg.finetune.task);
  j["init"] = result.init_report;
  j["label_fraction"] = cfg.data.label_fraction;
  j["train_cases"] = result.train_cases;
  j["test_cases"] = result.test_cases;
  j["steps"] = result.train.step;
  j["seconds"] = result.train.seconds;
  j["best_checkpoint"] = result.best_checkpoint.string();
  j["summary"] = result.summary_json.string();
  ordered_json metrics = ordered_json::object();
  for (const auto& [name, v] : result.mean_metrics)
    metrics[name] = std::isfinite(v) ? ordered_json(v) : ordered_json(nullptr);
  j["mean_metrics"] = metrics;
  core::atomic_write_text(run_dir / "finetune.json", j.dump(2) + "\n");
  return result;
}

}  // namespace gtgm::app
