// run_finetune end to end on tiny synthetic data: split, training with validation, best
// checkpoint, predictions in the source geometry + summary.json; exact resume; validation Dice of a
// perfect predictor; EM (affinity) fine-tuning; CLI errors; the same on CUDA in bf16 (skipped without a GPU).
#include <gtest/gtest.h>

#include <fstream>

#include "gtgm/app/finetune.h"
#include "gtgm/app/load_predictor.h"
#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/synth.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/io/volume_io.h"
#include "gtgm/train/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

class Finetune : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    data::PhantomOptions p;
    p.num_train = 5;  // 80/20: 4 train, 1 held out
    p.num_test = 0;
    p.shape = {16, 32, 32};
    data::write_phantom_task(dir_->path() / "task", p);
  }
  static void TearDownTestSuite() { delete dir_; }

  static config::Config config(const std::string& run, std::vector<std::string> extra = {}) {
    std::vector<std::string> sets = {"run.dir=" + (dir_->path() / run).string(),
                                     "run.device=cpu",
                                     "model.in_channels=1",
                                     "run.precision=fp32",
                                     "run.log_level=warn",
                                     "run.threads=1",
                                     "data.root=" + (dir_->path() / "task").string(),
                                     "data.cache_dir=" + (dir_->path() / "cache").string(),
                                     "data.modality=CT",
                                     "data.crop_size=[16, 32, 32]",
                                     "data.batch_size=2",
                                     "data.num_workers=1",
                                     "data.prefetch=1",
                                     "model.type=resnet3d",
                                     "model.depth=10",
                                     "model.base_channels=4",
                                     "model.embed_dim=16",
                                     "model.num_classes=5",
                                     "optim.lr=1e-3",
                                     "train.steps=4",
                                     "train.validate_every=2",
                                     "train.checkpoint_every=2",
                                     "train.keep_last=3",
                                     "train.log_every=2"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    return config::default_config(sets);
  }
  static app::FinetuneOptions options(int64_t stop_after = -1, bool predict = true) {
    app::FinetuneOptions o;
    o.stop_after = stop_after;
    o.predict = predict;
    return o;
  }
  // Checks that every prediction of a run lies on its source label's grid; returns how many.
  static int predictions_on_source_grid(const app::FinetuneResult& r) {
    int predictions = 0;
    for (const auto& e : fs::directory_iterator(r.predictions_dir)) {
      if (e.path().filename() == "summary.json") continue;
      ++predictions;
      const io::Volume pred = io::read_volume(e.path());
      const std::string id = io::strip_volume_extension(e.path());
      const io::Volume ref = io::read_volume(dir_->path() / "task" / "labelsTr" / (id + ".nii.gz"));
      EXPECT_EQ(pred.data.sizes(), ref.data.sizes()) << id;
      EXPECT_EQ(io::geometry_mismatch(pred, ref), "") << id;
    }
    return predictions;
  }
  static test::TempDir* dir_;
};
test::TempDir* Finetune::dir_ = nullptr;

}  // namespace

TEST_F(Finetune, EndToEndPredictsHeldOutCasesInTheSourceGeometryAndScoresThem) {
  const config::Config cfg = config("e2e");
  // No cache yet: the run preprocesses first.
  const app::FinetuneResult r = app::run_finetune(cfg, options());
  EXPECT_TRUE(fs::exists(dir_->path() / "cache" / "cache.json"));
  EXPECT_EQ(r.train_cases, 4);
  EXPECT_EQ(r.test_cases, 1);
  EXPECT_EQ(r.init_report, "random");
  EXPECT_EQ(r.train.step, 4);
  EXPECT_FALSE(r.train.interrupted);
  const auto best = train::read_best(r.run_dir);
  ASSERT_FALSE(best.is_null());
  EXPECT_EQ(best.at("metric"), "validation");
  EXPECT_EQ(r.best_checkpoint, train::checkpoint_dir(r.run_dir, best.at("step").get<int64_t>()));
  ASSERT_TRUE(fs::exists(r.summary_json));
  EXPECT_EQ(r.summary_json, r.run_dir / "predictions" / "summary.json");
  ASSERT_EQ(r.mean_metrics.count("dice"), 1u);
  const double d = r.mean_metrics.at("dice");
  EXPECT_TRUE(d >= 0.0 && d <= 1.0) << d;
  // The prediction of the held-out case sits on its source label's grid.
  EXPECT_EQ(predictions_on_source_grid(r), 1);
  // The held-out case drawn for people (app/overlay.h): RUN_DIR/overlays/<case>.png.
  ASSERT_TRUE(fs::is_directory(r.run_dir / "overlays"));
  int overlays = 0;
  for (const auto& e : fs::directory_iterator(r.run_dir / "overlays")) overlays += e.path().extension() == ".png";
  EXPECT_EQ(overlays, 1);
  EXPECT_TRUE(fs::exists(r.run_dir / "config.resolved.yaml"));
  EXPECT_TRUE(fs::exists(r.run_dir / "finetune.json"));
  EXPECT_TRUE(fs::exists(r.run_dir / "log.txt"));
  // A finished run dir is not silently overwritten.
  EXPECT_THROW_MSG(app::run_finetune(cfg, options()), "already holds checkpoints of a run; pass --resume");
  // The run as a Predictor (best checkpoint, the run's own plan.json): the held-out source image
  // read from disk is preprocessed again and predicted exactly as the run predicted it.
  EXPECT_TRUE(fs::exists(r.run_dir / "plan.json"));
  const app::LoadedPredictor lp = app::load_predictor(r.run_dir, torch::kCPU);
  EXPECT_EQ(lp.checkpoint, r.best_checkpoint);
  for (const auto& e : fs::directory_iterator(r.predictions_dir)) {
    if (e.path().filename() == "summary.json") continue;
    const std::string id = io::strip_volume_extension(e.path());
    const io::Volume image = io::read_volume(dir_->path() / "task" / "imagesTr" / (id + ".nii.gz"));
    const infer::Prediction p = lp.predictor.predict(image);
    const io::Volume written = io::read_volume(e.path());
    EXPECT_TRUE(torch::equal(p.labels.data.to(torch::kLong), written.data.to(torch::kLong))) << id;
    EXPECT_EQ(io::geometry_mismatch(p.labels, written), "") << id;
  }
  // The same from the checkpoint dir; a pretraining-style checkpoint (no head) is refused.
  EXPECT_EQ(app::load_predictor(r.best_checkpoint, torch::kCPU).checkpoint, r.best_checkpoint);
  EXPECT_THROW_MSG(app::load_predictor(dir_->path() / "nowhere", torch::kCPU), "nowhere does not exist");
  const fs::path headless = dir_->path() / "headless" / "checkpoints" / "step_4";
  fs::create_directories(headless);
  for (const char* f : {"manifest.json", "config.yaml"}) fs::copy_file(r.best_checkpoint / f, headless / f);
  io::NamedTensors encoder_only;
  for (const auto& [name, t] : io::load_safetensors(r.best_checkpoint / "model.safetensors"))
    if (name.rfind("encoder.", 0) == 0) encoder_only.emplace_back(name, t);
  io::save_safetensors(headless / "model.safetensors", encoder_only);
  EXPECT_THROW_MSG(app::load_predictor(headless, torch::kCPU), "holds no segmentation head ('head.*' tensors)");
}

TEST_F(Finetune, ResumeAfterStopGivesTheSameWeightsAsAnUninterruptedRun) {
  const app::FinetuneResult full = app::run_finetune(config("full"), options(-1, false));
  const app::FinetuneResult part = app::run_finetune(config("part"), options(2, false));
  EXPECT_TRUE(part.train.interrupted);
  EXPECT_EQ(part.train.step, 2);
  EXPECT_TRUE(part.predictions_dir.empty());
  app::FinetuneOptions o = options(-1, false);
  o.resume = part.run_dir.string();
  const app::FinetuneResult rest = app::run_finetune(config("part"), o);
  EXPECT_EQ(rest.train.step, 4);
  const auto a = io::load_safetensors(train::checkpoint_dir(full.run_dir, 4) / "model.safetensors");
  const auto b = io::load_safetensors(train::checkpoint_dir(rest.run_dir, 4) / "model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  EXPECT_EQ(train::read_best(full.run_dir), train::read_best(rest.run_dir));
}

TEST_F(Finetune, PretrainedEncoderIsLoadedAndReported) {
  // A pretraining-style checkpoint folder is what --pretrained names; here a .safetensors file of
  // "encoder.*" tensors (what model.safetensors holds).
  const config::Config cfg = config("pre");
  auto enc = models::build_encoder(cfg.model);
  io::NamedTensors state;
  for (const auto& [k, t] : io::module_state(*enc)) state.emplace_back("encoder." + k, t);
  state.emplace_back("vision_proj.fc1.weight", torch::zeros({2, 2}));
  fs::create_directories(dir_->path() / "weights");
  io::save_safetensors(dir_->path() / "weights" / "model.safetensors", state);
  app::FinetuneOptions o = options(-1, false);
  o.pretrained = (dir_->path() / "weights" / "model.safetensors").string();
  const app::FinetuneResult r = app::run_finetune(cfg, o);
  EXPECT_NE(r.init_report.find(fmt::format("{} tensors loaded", state.size() - 1)), std::string::npos) << r.init_report;
  EXPECT_NE(r.init_report.find("1 unexpected"), std::string::npos) << r.init_report;
  EXPECT_EQ(core::read_text_file(r.run_dir / "init_report.txt"), r.init_report);
  o.pretrained = (dir_->path() / "missing_run").string();
  EXPECT_THROW_MSG(app::run_finetune(config("pre2"), o), (dir_->path() / "missing_run").string() + " does not exist");
}

TEST_F(Finetune, EndToEndOnCudaInBf16_CUDA) {
  GTGM_REQUIRE_CUDA();
  // The whole fine-tuning path on the GPU: pinned/non-blocking batches, bf16 autocast, validation
  // and held-out prediction by sliding window on the device, predictions back in source geometry.
  const app::FinetuneResult r = app::run_finetune(config("cuda", {"run.device=cuda", "run.precision=bf16"}), options());
  EXPECT_EQ(r.train.step, 4);
  EXPECT_FALSE(r.train.interrupted);
  ASSERT_EQ(r.mean_metrics.count("dice"), 1u);
  const double d = r.mean_metrics.at("dice");
  EXPECT_TRUE(d >= 0.0 && d <= 1.0) << d;
  const auto best = train::read_best(r.run_dir);
  ASSERT_FALSE(best.is_null());
  for (const auto& [name, t] : io::load_safetensors(r.best_checkpoint / "model.safetensors")) {
    if (t.is_floating_point()) EXPECT_TRUE(torch::isfinite(t).all().item<bool>()) << name;
  }
  EXPECT_EQ(predictions_on_source_grid(r), 1);
}

TEST_F(Finetune, ValidationDiceOfAPerfectPredictorIsOne) {
  // One case at a time with a window of exactly its size: the predictor sees the whole case and
  // answers with its one-hot label.
  config::Config cfg = config("perfect");
  data::run_preprocess(cfg.data, cfg.run.seed);
  const auto all = data::CacheDataset::open(cfg.data.cache_dir, {}, true);
  ASSERT_GE(all->size(), 2u);
  for (size_t i = 0; i < all->size(); ++i) {
    const auto one = data::CacheDataset::open(cfg.data.cache_dir, {all->at(i).entry.id}, true);
    const torch::Tensor label = one->at(0).label.tensor()[0].to(torch::kLong);
    infer::SlidingWindowOptions o;
    o.patch_size = {label.size(0), label.size(1), label.size(2)};
    o.batch_size = 1;
    int calls = 0;
    const infer::ForwardFn perfect = [&](const torch::Tensor& x) {
      ++calls;
      EXPECT_EQ(x.sizes().slice(2), label.sizes());
      return torch::one_hot(label, 5).permute({3, 0, 1, 2}).unsqueeze(0).to(torch::kFloat) * 10.0;
    };
    const train::Validation v =
        app::validate_segmentation(*one, infer::Predictor(perfect, {infer::PredictionKind::Segmentation, o}), 5);
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(v.higher_is_better);
    EXPECT_DOUBLE_EQ(v.score, 1.0) << all->at(i).entry.id;
    EXPECT_EQ(v.metrics.front().first, "dice");
    // Background everywhere: Dice 0 for every class the case holds.
    const infer::ForwardFn empty = [&](const torch::Tensor& x) {
      torch::Tensor y = torch::zeros({x.size(0), 5, x.size(2), x.size(3), x.size(4)});
      y.select(1, 0).fill_(1.0);
      return y;
    };
    EXPECT_DOUBLE_EQ(
        app::validate_segmentation(*one, infer::Predictor(empty, {infer::PredictionKind::Segmentation, o}), 5).score,
        0.0);
  }
}

TEST(FinetuneEm, AffinityRunPredictsInstancesInCremiLayoutAndScoresVoi) {
  test::TempDir tmp;
  data::EmOptions e;
  e.num_volumes = 1;
  e.shape = {10, 32, 32};
  e.num_cells = 6;
  data::write_em_dataset(tmp / "em", e);
  const config::Config cfg = config::default_config({"run.dir=" + (tmp / "run").string(),
                                                     "run.device=cpu",
                                                     "model.in_channels=1",
                                                     "run.precision=fp32",
                                                     "run.log_level=warn",
                                                     "run.threads=1",
                                                     "data.root=" + (tmp / "em").string(),
                                                     "data.format=cremi",
                                                     "data.modality=EM",
                                                     "data.crop_size=[4, 32, 32]",
                                                     "data.batch_size=2",
                                                     "model.type=resnet3d",
                                                     "model.depth=10",
                                                     "model.base_channels=4",
                                                     "model.embed_dim=16",
                                                     "model.head=affinity",
                                                     "finetune.task=affinity",
                                                     "train.steps=2",
                                                     "train.validate_every=2",
                                                     "train.checkpoint_every=2",
                                                     "eval.metrics=[voi, arand]"});
  const app::FinetuneResult r = app::run_finetune(cfg, app::FinetuneOptions{});
  EXPECT_EQ(r.train_cases, 1);
  const auto best = train::read_best(r.run_dir);
  ASSERT_FALSE(best.is_null());
  EXPECT_FALSE(best.at("higher_is_better").get<bool>());
  for (const char* k : {"voi", "voi_split", "voi_merge", "arand"}) {
    ASSERT_EQ(r.mean_metrics.count(k), 1u) << k;
    EXPECT_GE(r.mean_metrics.at(k), 0.0) << k;
  }
  EXPECT_NEAR(r.mean_metrics.at("voi"), r.mean_metrics.at("voi_split") + r.mean_metrics.at("voi_merge"), 1e-9);
  // The prediction: CREMI neuron_ids, source shape; 0 on the training slices (first 6 of 10).
  const fs::path pred = r.predictions_dir / "sample_A.h5";
  ASSERT_TRUE(fs::exists(pred)) << pred;
  const io::Volume v = io::read_volume(pred.string() + ":volumes/labels/neuron_ids");
  EXPECT_EQ(v.data.sizes(), (torch::IntArrayRef{1, 10, 32, 32}));
  EXPECT_EQ(v.data[0].narrow(0, 0, 6).abs().sum().item<int64_t>(), 0);
  EXPECT_GT(v.data[0].narrow(0, 6, 4).gt(0).sum().item<int64_t>(), 0);
}

TEST(FinetuneCli, ErrorsNameWhatIsWrong) {
  auto r = test::run_gtgm("finetune");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--config is required"), std::string::npos) << r.output;
  test::TempDir tmp;
  r = test::run_gtgm("finetune --config " + std::string(GTGM_SOURCE_ROOT) +
                     "/configs/demo/finetune.yaml --pretrained " + (tmp / "no_such_run").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find((tmp / "no_such_run").string() + " does not exist"), std::string::npos) << r.output;
  r = test::run_gtgm("finetune --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--pretrained", "--label-fraction", "--resume", "--stop-after"}) {
    EXPECT_NE(r.output.find(opt), std::string::npos) << opt;
  }
}
