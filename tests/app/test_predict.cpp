// `gtgm predict` end to end: two tiny fold runs of a synthetic task are trained once, then new
// images (the task's imagesTs, a real public DICOM series, nnU-Net channel files) are predicted
// through the real binary. Asserts the source geometry of every output, that a 2-run ensemble's
// probabilities are the mean of the runs' own, and the errors and the handling of existing outputs.
#include <gtest/gtest.h>

#include <filesystem>

#include "gtgm/app/finetune.h"
#include "gtgm/app/load_predictor.h"
#include "gtgm/app/predict.h"
#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/data/synth.h"
#include "gtgm/io/checks.h"
#include "gtgm/io/dicom_io.h"
#include "gtgm/io/volume_io.h"
#include "gtgm/train/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

class Predict : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    data::PhantomOptions p;
    p.num_train = 4;
    p.num_test = 2;
    p.shape = {12, 24, 24};
    data::write_phantom_task(dir_->path() / "task", p);
    app::FinetuneOptions o;
    o.predict = false;
    const std::vector<app::FinetuneResult> r = app::run_finetune_folds(config(dir_->path() / "runs"), o);
    ASSERT_EQ(r.size(), 2u);
  }
  // Two folds of a tiny model, each in RUN/fold_<k>.
  static config::Config config(const fs::path& run_dir) {
    return config::default_config({
        "run.dir=" + run_dir.string(),
        "run.device=cpu",
        "run.precision=fp32",
        "run.log_level=warn",
        "run.threads=1",
        "data.root=" + (dir_->path() / "task").string(),
        "data.cache_dir=" + (dir_->path() / "cache").string(),
        "data.modality=CT",
        "data.crop_size=[8, 16, 16]",
        "data.batch_size=2",
        "data.num_workers=1",
        "data.prefetch=1",
        "data.num_folds=2",
        "model.type=resnet3d",
        "model.depth=10",
        "model.base_channels=4",
        "model.embed_dim=16",
        "model.num_classes=5",
        "optim.lr=1e-2",
        "train.steps=2",
        "train.validate_every=100",
        "train.checkpoint_every=1",
        "train.log_every=1",
    });
  }
  static void TearDownTestSuite() { delete dir_; }

  static fs::path task() { return dir_->path() / "task"; }
  static fs::path fold(int k) { return dir_->path() / "runs" / ("fold_" + std::to_string(k)); }
  static std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

  static test::TempDir* dir_;
};
test::TempDir* Predict::dir_ = nullptr;

void expect_on_grid_of(const fs::path& pred_path, const io::Volume& source) {
  ASSERT_TRUE(fs::exists(pred_path)) << pred_path;
  const io::Volume pred = io::read_volume(pred_path);
  EXPECT_EQ(pred.data.size(0), 1) << pred_path;
  EXPECT_EQ(pred.shape(), source.shape()) << pred_path;
  EXPECT_EQ(io::geometry_mismatch(pred, source), "") << pred_path;
  EXPECT_GE(pred.data.min().item<int64_t>(), 0);
  EXPECT_LT(pred.data.max().item<int64_t>(), 5);
}

}  // namespace

TEST_F(Predict, ImagesTsOfATaskComeBackInTheSourceGeometry) {
  const test::TempDir out;
  const auto r = test::run_gtgm("predict -i " + q(task() / "imagesTs") + " -o " + q(out.path()) + " -m " + q(fold(0)) +
                                " --device cpu --threads 1 --log-level warn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 case(s) predicted with 1 model(s)"), std::string::npos) << r.output;
  int n = 0;
  for (const auto& e : fs::directory_iterator(task() / "imagesTs")) {
    expect_on_grid_of(out.path() / e.path().filename(), io::read_volume(e.path()));
    ++n;
  }
  EXPECT_EQ(n, 2);
  EXPECT_TRUE(fs::exists(out.path() / "predict.json"));

  // A second run refuses to overwrite, --continue keeps, --overwrite replaces.
  const std::string again = "predict -i " + q(task() / "imagesTs") + " -o " + q(out.path()) + " -m " + q(fold(0)) +
                            " --device cpu --threads 1 --log-level warn";
  const auto refused = test::run_gtgm(again);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("2 prediction(s) already exist"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--overwrite"), std::string::npos) << refused.output;
  const fs::path first = out.path() / "synthct_004.nii.gz";
  ASSERT_TRUE(fs::exists(first));
  const auto mtime = fs::last_write_time(first);
  fs::remove(out.path() / "synthct_005.nii.gz");
  const auto kept = test::run_gtgm(again + " --continue");
  ASSERT_EQ(kept.exit_code, 0) << kept.output;
  EXPECT_NE(kept.output.find("1 case(s) predicted, 1 kept"), std::string::npos) << kept.output;
  EXPECT_EQ(fs::last_write_time(first), mtime);
  EXPECT_TRUE(fs::exists(out.path() / "synthct_005.nii.gz"));
  const auto replaced = test::run_gtgm(again + " --overwrite");
  ASSERT_EQ(replaced.exit_code, 0) << replaced.output;
  EXPECT_NE(replaced.output.find("2 case(s) predicted with"), std::string::npos) << replaced.output;
}

TEST_F(Predict, OverlaysDrawTheFirstCasesWithCaseIdAndLegend) {
  const test::TempDir out;
  const auto r = test::run_gtgm("predict -i " + q(task() / "imagesTs") + " -o " + q(out.path()) + " -m " + q(fold(0)) +
                                " --device cpu --threads 1 --log-level warn --overlays 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<fs::path> pngs;
  for (const auto& e : fs::directory_iterator(out.path() / "overlays")) pngs.push_back(e.path());
  ASSERT_EQ(pngs.size(), 1u);  // the first case only
  EXPECT_EQ(pngs[0].filename(), "synthct_004.png");
  const std::string png = core::read_text_file(pngs[0]);
  ASSERT_GE(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(png[at + i]);
    return v;
  };
  EXPECT_EQ(be32(16), 2u * 256 + 4);  // IHDR width: image | prediction, no reference panel
  const auto bad = test::run_gtgm("predict -i " + q(task() / "imagesTs") + " -o " + q(out.path()) + " -m " +
                                  q(fold(0)) + " --overwrite --overlays -1");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--overlays"), std::string::npos) << bad.output;
}

TEST_F(Predict, TwoFoldEnsembleIsTheMeanOfTheFoldsProbabilities) {
  const test::TempDir out;
  const fs::path image = task() / "imagesTs" / "synthct_004.nii.gz";
  const std::string base = "predict -i " + q(image) + " --device cpu --threads 1 --log-level warn --save-probabilities";
  // The runs' parent folder stands for its fold_<k> runs.
  for (const auto& [name, models] : std::vector<std::pair<std::string, std::string>>{
           {"f0", q(fold(0))}, {"f1", q(fold(1))}, {"ens", q(dir_->path() / "runs")}}) {
    const auto r = test::run_gtgm(base + " -o " + q(out.path() / name) + " -m " + models);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.output;
  }
  const io::Volume source = io::read_volume(image);
  auto probs = [&](const std::string& name) {
    const fs::path p = out.path() / name / "probabilities" / "synthct_004.nii.gz";
    const io::Volume v = io::read_volume(p);
    EXPECT_EQ(v.shape(), source.shape()) << p;
    EXPECT_EQ(io::geometry_mismatch(v, source), "") << p;
    return v.data;
  };
  const torch::Tensor p0 = probs("f0"), p1 = probs("f1"), pe = probs("ens");
  ASSERT_EQ(pe.size(0), 5);
  EXPECT_FALSE(torch::allclose(p0, p1, 1e-3, 1e-3)) << "the two folds predict the same: the test would not tell";
  EXPECT_TRUE(torch::allclose(pe, (p0 + p1) / 2, 1e-5, 1e-5))
      << "max difference " << (pe - (p0 + p1) / 2).abs().max().item<double>();
  // Probabilities sum to 1 wherever the prediction is inside the network's crop.
  const torch::Tensor sum = pe.sum(0);
  EXPECT_TRUE(torch::allclose(sum.index({sum > 0}), torch::ones_like(sum.index({sum > 0})), 1e-4, 1e-4));
  expect_on_grid_of(out.path() / "ens" / "synthct_004.nii.gz", source);
  const std::string json = core::read_text_file(out.path() / "ens" / "predict.json");
  EXPECT_NE(json.find("fold_0"), std::string::npos) << json;
  EXPECT_NE(json.find("fold_1"), std::string::npos) << json;
}

TEST_F(Predict, RealDicomSeriesBecomesANiftiOnTheSeriesGrid) {
  const fs::path series = test::pydicom_file("dicomdirtests/98892001/CT5N");
  if (!fs::exists(series)) GTEST_SKIP() << series << " absent: run scripts/fetch_test_data.sh";
  const test::TempDir out;
  const auto r = test::run_gtgm("predict -i " + q(series) + " -o " + q(out.path()) + " -m " + q(fold(0)) +
                                " --device cpu --threads 1 --tta --log-level warn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mirror TTA"), std::string::npos) << r.output;
  expect_on_grid_of(out.path() / "CT5N.nii.gz", io::read_volume(series));
}

TEST_F(Predict, OneFileToANamedOutputFile) {
  const test::TempDir out;
  const fs::path image = task() / "imagesTs" / "synthct_005.nii.gz";
  const auto r = test::run_gtgm("predict -i " + q(image) + " -o " + q(out.path() / "mine.nrrd") + " -m " + q(fold(1)) +
                                " --device cpu --threads 1 --log-level warn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_on_grid_of(out.path() / "mine.nrrd", io::read_volume(image));
}

TEST_F(Predict, NnunetChannelFilesAreGroupedAndCheckedAgainstTheModel) {
  const test::TempDir in;
  const io::Volume v = io::read_volume(task() / "imagesTs" / "synthct_004.nii.gz");
  io::write_volume(v, in.path() / "a_0000.nii.gz");
  io::write_volume(v, in.path() / "b_0000.nii.gz");
  auto cases = app::find_predict_cases(in.path(), 1);
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].id, "a");
  EXPECT_EQ(cases[0].extension, ".nii.gz");
  EXPECT_EQ(cases[1].id, "b");

  // Through the binary: the prediction is named by the case id, without _0000.
  const test::TempDir out;
  const auto r = test::run_gtgm("predict -i " + q(in.path()) + " -o " + q(out.path()) + " -m " + q(fold(0)) +
                                " --device cpu --threads 1 --log-level warn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_on_grid_of(out.path() / "a.nii.gz", v);

  // A second channel file for a 1-channel model names the case and the file.
  io::write_volume(v, in.path() / "a_0001.nii.gz");
  EXPECT_THROW_MSG(app::find_predict_cases(in.path(), 1), "not used by the model: a_0001.nii.gz");
  const auto bad = test::run_gtgm("predict -i " + q(in.path()) + " -o " + q(out.path() / "x") + " -m " + q(fold(0)) +
                                  " --device cpu --log-level warn");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("case a (nnU-Net channel files a_XXXX"), std::string::npos) << bad.output;
  // A 2-channel model lacking b_0001.
  EXPECT_THROW_MSG(app::find_predict_cases(in.path(), 2), "missing: b_0001");
  cases = app::find_predict_cases(in.path() / "a_0000.nii.gz", 2);
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].id, "a_0000");
}

TEST_F(Predict, LayoutsOfAnInputFolder) {
  const test::TempDir in;
  const io::Volume v = io::read_volume(task() / "imagesTs" / "synthct_004.nii.gz");
  // Plain files (MSD imagesTs): one case per file, extension kept; numbered names are not channels
  // unless every file has a _0000 partner.
  io::write_volume(v, in.path() / "case_0001.nrrd");
  io::write_volume(v, in.path() / "case_0002.nii.gz");
  io::write_volume(v, in.path() / "other.mha");
  test::write_file(in.path() / "notes.txt", "not a volume");
  fs::create_directories(in.path() / ".hidden");
  io::write_dicom_series(io::Volume{v.data.to(torch::kShort), v.geometry, "", "int16"}, in.path() / "scan7");
  const auto cases = app::find_predict_cases(in.path(), 1);
  ASSERT_EQ(cases.size(), 4u);
  EXPECT_EQ(cases[0].id, "case_0001");
  EXPECT_EQ(cases[0].extension, ".nrrd");
  EXPECT_EQ(cases[1].id, "case_0002");
  EXPECT_EQ(cases[2].id, "other");
  EXPECT_EQ(cases[2].extension, ".mha");
  EXPECT_EQ(cases[3].id, "scan7");
  EXPECT_EQ(cases[3].extension, ".nii.gz");
  // Two images with one id.
  io::write_volume(v, in.path() / "other.nii.gz");
  EXPECT_THROW_MSG(app::find_predict_cases(in.path(), 1), "two images in");
  // Nothing to read.
  const test::TempDir empty;
  EXPECT_THROW_MSG(app::find_predict_cases(empty.path(), 1), "holds no volume files");
  EXPECT_THROW_MSG(app::find_predict_cases(empty.path() / "nope.nii.gz", 1), "does not exist");
  test::write_file(empty.path() / "a.txt", "x");
  EXPECT_THROW_MSG(app::find_predict_cases(empty.path() / "a.txt", 1), "has no volume extension");
}

TEST_F(Predict, ModelErrorsNameTheRun) {
  const test::TempDir out;
  const fs::path image = task() / "imagesTs" / "synthct_004.nii.gz";
  auto run = [&](const std::string& models) {
    return test::run_gtgm("predict -i " + q(image) + " -o " + q(out.path()) + " -m " + models +
                          " --device cpu --log-level warn");
  };
  const auto none = run(q(dir_->path() / "task"));
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.output.find("no fold_<k> run dirs"), std::string::npos) << none.output;
  EXPECT_EQ(app::expand_model_dirs({dir_->path() / "runs"}), (std::vector<fs::path>{fold(0), fold(1)}));
  // Runs that predict with different windows cannot be ensembled.
  const app::LoadedPredictor one = app::load_predictor(fold(0), torch::kCPU);
  const test::TempDir other;
  config::Config cfg = one.config;
  cfg.data.crop_size = {8, 16, 8};
  cfg.run.dir = (other.path() / "run").string();
  app::FinetuneOptions o;
  o.predict = false;
  app::run_finetune(cfg, o);
  const auto mixed = run(q(fold(0)) + "," + q(other.path() / "run"));
  EXPECT_NE(mixed.exit_code, 0);
  EXPECT_NE(mixed.output.find("cannot be ensembled"), std::string::npos) << mixed.output;
  EXPECT_NE(mixed.output.find("data.crop_size (sliding window): 8x16x16 vs 8x16x8"), std::string::npos) << mixed.output;
  EXPECT_FALSE(fs::exists(out.path() / "synthct_004.nii.gz"));
}

TEST_F(Predict, FoldAllResumesAnInterruptedFoldAndKeepsFinishedOnes) {
  const test::TempDir runs;
  app::FinetuneOptions o;
  o.predict = false;
  o.stop_after = 1;
  std::vector<app::FinetuneResult> r = app::run_finetune_folds(config(runs.path()), o);
  ASSERT_EQ(r.size(), 1u);  // fold 0 stopped after one step; fold 1 not started
  EXPECT_TRUE(r[0].train.interrupted);
  EXPECT_FALSE(fs::exists(runs.path() / "fold_1"));
  o.stop_after = -1;
  r = app::run_finetune_folds(config(runs.path()), o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].train.step, 2);
  EXPECT_EQ(r[1].train.step, 2);
  EXPECT_EQ(train::list_checkpoints(runs.path() / "fold_0").front().first, 2);
  EXPECT_TRUE(fs::exists(runs.path() / "folds.json"));
  // Everything finished: nothing is trained again.
  EXPECT_TRUE(app::run_finetune_folds(config(runs.path()), o).empty());
  o.resume = (runs.path() / "fold_0").string();
  EXPECT_THROW_MSG(app::run_finetune_folds(config(runs.path()), o), "resume by running the same command again");
}
