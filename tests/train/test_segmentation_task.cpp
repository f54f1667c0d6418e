// SegmentationTask / AffinityTask: encoder initialisation (report counts, refusals, stem channel
// adaptation), losses and gradient flow on a tiny preprocessed phantom, EM slice split and affinity
// batches.
#include <gtest/gtest.h>

#include "gtgm/app/train_setup.h"
#include "gtgm/config/load.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/synth.h"
#include "gtgm/infer/affinities.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/train/affinity_task.h"
#include "gtgm/train/segmentation_task.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

config::ModelConfig tiny_model(int in_channels = 1, int base = 4) {
  std::vector<std::string> sets = {"model.type=resnet3d",
                                   "model.depth=10",
                                   "model.base_channels=" + std::to_string(base),
                                   "model.embed_dim=16",
                                   "model.in_channels=" + std::to_string(in_channels),
                                   "model.num_classes=3"};
  return config::default_config(sets).model;
}

// A pretraining-style model.safetensors: "encoder.*" plus projection tensors.
io::NamedTensors pretrain_state(const models::EncoderImpl& enc) {
  io::NamedTensors s;
  for (const auto& [k, t] : io::module_state(enc)) s.emplace_back("encoder." + k, t.clone());
  s.emplace_back("vision_proj.fc1.weight", torch::ones({4, 16}));
  s.emplace_back("text_proj.fc1.weight", torch::ones({4, 12}));
  return s;
}

}  // namespace

TEST(SegTaskInit, ReportsLoadedMissingAndUnexpectedAndCopiesTheEncoder) {
  test::TempDir tmp;
  torch::manual_seed(1);
  auto src = models::build_encoder(tiny_model());
  io::NamedTensors state = pretrain_state(*src);
  const std::string dropped = state.front().first;  // "encoder.<stem weight>"
  state.erase(state.begin());
  io::save_safetensors(tmp / "model.safetensors", state);

  torch::manual_seed(2);
  auto seg = models::build_segmentation_model(tiny_model());
  const int64_t total = static_cast<int64_t>(io::module_state(*seg).size());
  const int64_t enc = static_cast<int64_t>(io::module_state(*seg->encoder()).size());
  const train::EncoderInitReport r = train::init_encoder_from(*seg->encoder(), tmp / "model.safetensors", total - enc);
  EXPECT_EQ(r.loaded, enc - 1);
  EXPECT_EQ(r.missing_encoder, 1);
  EXPECT_EQ(r.missing_other, total - enc);
  EXPECT_EQ(r.unexpected, 2);
  ASSERT_EQ(r.missing_keys.size(), 1u);
  EXPECT_EQ("encoder." + r.missing_keys[0], dropped);
  EXPECT_TRUE(r.adapted.empty());
  EXPECT_NE(r.text().find(fmt::format("{} tensors loaded, {} missing ({} decoder/head, 1 encoder), 2 unexpected",
                                      enc - 1, total - enc + 1, total - enc)),
            std::string::npos)
      << r.text();
  // Every loaded tensor now equals the source.
  const auto got = io::module_state(*seg->encoder());
  const auto want = io::module_state(*src);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_TRUE(torch::equal(got[i].second, want[i].second)) << got[i].first;

  // An export folder (encoder-relative keys) loads everything.
  fs::create_directories(tmp / "export");
  io::save_safetensors(tmp / "export" / "encoder.safetensors", io::module_state(*src));
  auto seg2 = models::build_segmentation_model(tiny_model());
  const auto r2 = train::init_encoder_from(*seg2->encoder(), tmp / "export");
  EXPECT_EQ(r2.loaded, enc);
  EXPECT_EQ(r2.missing_encoder, 0);
  EXPECT_EQ(r2.unexpected, 0);
  EXPECT_EQ(r2.source, (tmp / "export" / "encoder.safetensors").string());
}

TEST(SegTaskInit, RefusesEmptyLoadsShapeMismatchesAndMissingPaths) {
  test::TempDir tmp;
  auto seg = models::build_segmentation_model(tiny_model());
  io::save_safetensors(tmp / "other.safetensors", {{"bert.embeddings.weight", torch::zeros({3, 2})}});
  EXPECT_THROW_MSG(
      train::init_encoder_from(*seg->encoder(), tmp / "other.safetensors"),
      (tmp / "other.safetensors").string() + ": no tensor loaded into the resnet3d encoder (1 tensors stored");
  // Wider pretraining encoder (base_channels 8) -> the first differing tensor is named with both shapes.
  auto wide = models::build_encoder(tiny_model(1, 8));
  io::save_safetensors(tmp / "wide.safetensors", pretrain_state(*wide));
  EXPECT_THROW_MSG(train::init_encoder_from(*seg->encoder(), tmp / "wide.safetensors"),
                   "has shape [8, 1, 3, 7, 7] but the resnet3d encoder (model: section) expects [4, 1, 3, 7, 7]");
  EXPECT_THROW_MSG(train::init_encoder_from(*seg->encoder(), tmp / "nope"),
                   (tmp / "nope").string() + " does not exist");
  fs::create_directories(tmp / "empty_dir");
  EXPECT_THROW_MSG(train::init_encoder_from(*seg->encoder(), tmp / "empty_dir"),
                   "is neither a .safetensors file, an export dir");
}

TEST(SegTaskInit, AdaptsTheStemToMoreInputChannelsExactly) {
  test::TempDir tmp;
  torch::manual_seed(3);
  auto src = models::build_encoder(tiny_model(1));
  io::save_safetensors(tmp / "ct.safetensors", pretrain_state(*src));
  auto seg = models::build_segmentation_model(tiny_model(4));
  const auto r = train::init_encoder_from(*seg->encoder(), tmp / "ct.safetensors");
  EXPECT_EQ(r.missing_encoder, 0);
  EXPECT_NE(r.adapted.find("1 -> 4 input channels (channel sum repeated, scaled by 1/4)"), std::string::npos)
      << r.adapted;
  EXPECT_NE(r.text().find("adapted stem"), std::string::npos);
  const auto stem_src = io::module_state(*src).front();
  const auto stem_new = io::module_state(*seg->encoder()).front();
  ASSERT_EQ(stem_new.second.sizes(), (torch::IntArrayRef{4, 4, 3, 7, 7}));
  for (int64_t c = 0; c < 4; ++c) {
    EXPECT_TRUE(torch::allclose(stem_new.second.select(1, c), stem_src.second.select(1, 0) / 4.0, 0, 1e-7));
  }
  // A 4-channel input with identical channels gives the 1-channel model's stem response.
  const torch::Tensor x = torch::randn({1, 1, 4, 16, 16});
  const torch::Tensor a = torch::conv3d(x, stem_src.second);
  const torch::Tensor b = torch::conv3d(x.repeat({1, 4, 1, 1, 1}), stem_new.second);
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5));
  // The general rule (3 -> 2 channels): channel sum / C_new, repeated.
  const torch::Tensor w = torch::arange(12, torch::kFloat).view({2, 3, 2, 1, 1});
  const torch::Tensor adapted = train::adapt_input_conv(w, 2);
  EXPECT_EQ(adapted.sizes(), (torch::IntArrayRef{2, 2, 2, 1, 1}));
  EXPECT_FLOAT_EQ(adapted[0][0][0][0][0].item<float>(), (0 + 2 + 4) / 2.0f);
  EXPECT_FLOAT_EQ(adapted[1][1][1][0][0].item<float>(), (7 + 9 + 11) / 2.0f);
}

namespace {

// A tiny preprocessed phantom task (4 cases, 16x32x32), shared by the task tests.
class SegTask : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    data::PhantomOptions p;
    p.num_train = 3;
    p.num_test = 0;
    p.shape = {16, 32, 32};
    data::write_phantom_task(dir_->path() / "task", p);
    cfg_ = new config::Config(config::default_config(
        {"run.device=cpu", "model.in_channels=1", "run.precision=fp32", "run.log_level=warn",
         "data.root=" + (dir_->path() / "task").string(), "data.cache_dir=" + (dir_->path() / "cache").string(),
         "data.crop_size=[8, 24, 24]", "data.batch_size=2", "data.num_workers=1", "data.prefetch=1",
         "model.type=resnet3d", "model.depth=10", "model.base_channels=4", "model.embed_dim=16",
         "model.num_classes=5"}));
    data::run_preprocess(cfg_->data, cfg_->run.seed);
  }
  static void TearDownTestSuite() {
    delete cfg_;
    delete dir_;
  }
  static test::TempDir* dir_;
  static config::Config* cfg_;
};
test::TempDir* SegTask::dir_ = nullptr;
config::Config* SegTask::cfg_ = nullptr;

}  // namespace

TEST_F(SegTask, LossesAreFiniteAndTheGradientReachesTheEncoder) {
  auto ds = data::CacheDataset::open(data::resolve_cache_dir(cfg_->data), {}, true);
  for (bool deep : {false, true}) {
    config::Config cfg = *cfg_;
    cfg.model.deep_supervision = deep;
    train::SegmentationTask task(app::finetune_task_config(cfg), torch::kCPU, ds);
    EXPECT_FALSE(task.has_validation());
    task.module().train();
    const train::Batch b = task.next_batch();
    EXPECT_EQ(b.samples, 2);
    const train::Losses l = task.compute(b, train::StepContext{});
    ASSERT_EQ(l.terms.size(), 2u);
    EXPECT_EQ(l.terms[0].first, "dice");
    EXPECT_EQ(l.terms[1].first, "ce");
    EXPECT_TRUE(std::isfinite(l.total.item<double>()));
    EXPECT_GT(l.terms[1].second.item<double>(), 0.0);
    l.total.backward();
    const torch::Tensor g = task.model()->encoder()->parameters().front().grad();
    ASSERT_TRUE(g.defined());
    EXPECT_GT(g.abs().sum().item<double>(), 0.0);
  }
  config::Config bad = *cfg_;
  bad.model.head = config::HeadType::Affinity;
  EXPECT_THROW_MSG(train::SegmentationTask(app::finetune_task_config(bad), torch::kCPU, ds),
                   "model.head is 'affinity'");
}

TEST_F(SegTask, LoaderStateRestoresTheSameNextBatch) {
  auto ds = data::CacheDataset::open(data::resolve_cache_dir(cfg_->data), {}, true);
  train::SegmentationTask a(app::finetune_task_config(*cfg_), torch::kCPU, ds);
  a.next_batch();
  const nlohmann::json s = a.state();
  const auto want = std::any_cast<data::SegBatch>(a.next_batch().value);
  train::SegmentationTask b(app::finetune_task_config(*cfg_), torch::kCPU, ds);
  b.restore(s);
  const auto got = std::any_cast<data::SegBatch>(b.next_batch().value);
  EXPECT_TRUE(torch::equal(got.image, want.image));
  EXPECT_TRUE(torch::equal(got.label, want.label));
}

TEST(AffinityTaskSplit, EmSliceRangesFollowTheCremiProtocol) {
  // 125 slices, train_z 0.6: first 75 train, last 50 test; label fraction takes the first ones.
  EXPECT_EQ(train::em_train_slices(125, 0.6, 1.0).z_end, 75);
  EXPECT_EQ(train::em_test_slices(125, 0.6).z_begin, 75);
  EXPECT_EQ(train::em_test_slices(125, 0.6).z_end, 125);
  EXPECT_EQ(train::em_train_slices(125, 0.6, 0.167).z_end, 13);
  EXPECT_EQ(train::em_train_slices(16, 0.6, 1.0).z_end, 10);
  EXPECT_EQ(train::em_train_slices(2, 0.99, 1.0).z_end, 1);  // both parts non-empty
  EXPECT_THROW_MSG(train::em_train_slices(1, 0.6, 1.0), "at least 2 slices");
}

TEST(AffinityTaskSplit, BatchesHoldTheAffinitiesOfTheirLabelsAndStayInTheTrainSlices) {
  test::TempDir tmp;
  data::EmOptions e;
  e.num_volumes = 1;
  e.shape = {10, 32, 32};
  e.num_cells = 6;
  data::write_em_dataset(tmp / "em", e);
  config::Config cfg =
      config::default_config({"run.device=cpu", "model.in_channels=1", "run.precision=fp32", "run.log_level=warn",
                              "data.root=" + (tmp / "em").string(), "data.format=cremi", "data.modality=EM",
                              "data.cache_dir=" + (tmp / "cache").string(), "data.crop_size=[8, 16, 16]",
                              "data.batch_size=3", "model.type=resnet3d", "model.depth=10", "model.base_channels=4",
                              "model.embed_dim=16", "model.head=affinity", "finetune.task=affinity"});
  data::run_preprocess(cfg.data, cfg.run.seed);
  auto ds = data::CacheDataset::open(data::resolve_cache_dir(cfg.data), {}, true);
  const int64_t depth = ds->at(0).image.tensor().size(1);
  const train::SliceRange r = train::em_train_slices(depth, 0.6, 1.0);
  train::AffinityTask task(app::finetune_task_config(cfg), torch::kCPU, ds, {r});
  const train::AffinityBatch b = task.make_batch(0);
  EXPECT_EQ(b.image.sizes(), (torch::IntArrayRef{3, 1, 8, 16, 16}));
  EXPECT_EQ(b.target.sizes(), (torch::IntArrayRef{3, 3, 8, 16, 16}));
  EXPECT_TRUE(torch::equal(task.make_batch(0).image, b.image));  // a pure function of the index
  EXPECT_FALSE(torch::equal(task.make_batch(1).image, b.image));
  // Crops (8 slices) deeper than the 6 training slices: the slices past them (wherever a flip put
  // them) are masked out entirely, so no test slice is ever learned from.
  EXPECT_EQ(r.z_end, 6);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(b.mask[i].sum({0, 2, 3}).gt(0).sum().item<int64_t>(), 6) << "sample " << i;
  }
  // Targets are the nearest-neighbour affinities of the (augmented) label crops, with both classes present.
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::equal(b.target[i], infer::affinities_from_labels(b.label[i][0]))) << "sample " << i;
  }
  EXPECT_GT(b.target.mul(b.mask).sum().item<double>(), 0.0);
  EXPECT_GT((1 - b.target).mul(b.mask).sum().item<double>(), 0.0);
  // Loss and gradient.
  task.module().train();
  const train::Losses l = task.compute(task.next_batch(), train::StepContext{});
  EXPECT_TRUE(std::isfinite(l.total.item<double>()));
  l.total.backward();
  EXPECT_GT(task.model()->encoder()->parameters().front().grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(task.state(), (nlohmann::json{{"affinity_batch", 1}}));
  config::Config bad = cfg;
  bad.model.head = config::HeadType::Segmentation;
  EXPECT_THROW_MSG(train::AffinityTask(app::finetune_task_config(bad), torch::kCPU, ds, {r}),
                   "model.head is 'segmentation'");
}
