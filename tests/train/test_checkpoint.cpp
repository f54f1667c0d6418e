// Checkpoint directories: round trip, corruption detection, pruning, RNG state.
#include <gtest/gtest.h>

#include <fstream>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/seed.h"
#include "gtgm/train/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

train::CheckpointData sample(int64_t step) {
  train::CheckpointData d;
  d.step = step;
  d.weights = {{"encoder.w", torch::arange(6, torch::kFloat).reshape({2, 3})}, {"encoder.n", torch::tensor({int64_t(step)})}};
  d.optimizer = {{"encoder.w.exp_avg", torch::ones({2, 3})}};
  d.optimizer_meta = {{"optimizer", "adamw"}};
  d.rng = train::capture_torch_rng();
  d.trainer = {{"step", step}};
  d.loader = {{"epoch", 2}, {"index", 17}};
  d.config_yaml = config::to_yaml(config::default_config());
  return d;
}

}  // namespace

TEST(Checkpoint, RoundTripWithManifest) {
  test::TempDir tmp;
  const fs::path dir = train::checkpoint_dir(tmp.path(), 42);
  EXPECT_EQ(dir.filename(), "step_000000042");
  train::write_checkpoint(dir, sample(42));
  EXPECT_EQ(train::verify_checkpoint(dir), "");
  const auto m = train::read_manifest(dir);
  EXPECT_EQ(m["format"], "gtgm-checkpoint");
  EXPECT_EQ(m["step"], 42);
  EXPECT_EQ(m["files"].size(), 7u);
  EXPECT_EQ(m["files"]["loader.json"]["sha256"].get<std::string>().size(), 64u);
  const auto d = train::read_checkpoint(dir);
  EXPECT_EQ(d.step, 42);
  ASSERT_EQ(d.weights.size(), 2u);
  EXPECT_EQ(d.weights[0].first, "encoder.w");
  EXPECT_TRUE(torch::equal(d.weights[0].second, torch::arange(6, torch::kFloat).reshape({2, 3})));
  EXPECT_EQ(d.loader["index"], 17);
  EXPECT_EQ(config::load_config_string(d.config_yaml), config::default_config());
  // No temp directories are left behind.
  for (const auto& e : fs::directory_iterator(train::checkpoints_root(tmp.path()))) {
    EXPECT_EQ(e.path().filename().string().rfind(".step", 0), std::string::npos) << e.path();
  }
}

TEST(Checkpoint, DetectsCorruptedTruncatedAndPartialDirectories) {
  test::TempDir tmp;
  for (int64_t s : {10, 20, 30, 40}) train::write_checkpoint(train::checkpoint_dir(tmp.path(), s), sample(s));
  // 40: truncated weights; 30: one flipped byte in loader.json; 20: manifest missing (partial copy).
  const auto d40 = train::checkpoint_dir(tmp.path(), 40), d30 = train::checkpoint_dir(tmp.path(), 30),
             d20 = train::checkpoint_dir(tmp.path(), 20);
  fs::resize_file(d40 / "model.safetensors", fs::file_size(d40 / "model.safetensors") - 8);
  {
    std::string text = core::read_text_file(d30 / "loader.json");
    text[text.find("17")] = '9';
    std::ofstream(d30 / "loader.json", std::ios::binary) << text;
  }
  fs::remove(d20 / "manifest.json");
  EXPECT_NE(train::verify_checkpoint(d40).find("model.safetensors"), std::string::npos);
  EXPECT_NE(train::verify_checkpoint(d40).find("truncated"), std::string::npos);
  EXPECT_EQ(train::verify_checkpoint(d30), "loader.json: sha256 mismatch (corrupted)");
  EXPECT_NE(train::verify_checkpoint(d20).find("manifest.json missing"), std::string::npos);
  std::vector<std::string> rejected;
  const auto best = train::latest_valid_checkpoint(tmp.path(), &rejected);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(*best, train::checkpoint_dir(tmp.path(), 10));
  EXPECT_EQ(rejected.size(), 3u);
  EXPECT_EQ(train::resolve_checkpoint(tmp.path()), train::checkpoint_dir(tmp.path(), 10));
  EXPECT_THROW_MSG(train::read_checkpoint(d30), "is not usable: loader.json: sha256 mismatch");
  EXPECT_THROW_MSG(train::resolve_checkpoint(d40), "is not usable");
  test::TempDir empty;
  EXPECT_THROW_MSG(train::resolve_checkpoint(empty.path()), "no usable checkpoint");
}

TEST(Checkpoint, PruneKeepsLastKAndTheBest) {
  test::TempDir tmp;
  for (int64_t s = 1; s <= 6; ++s) train::write_checkpoint(train::checkpoint_dir(tmp.path(), s), sample(s));
  fs::create_directories(train::checkpoints_root(tmp.path()) / ".step_000000007.tmpdir.1.0");  // a crash leftover
  fs::create_directories(train::checkpoints_root(tmp.path()) / "step_000000000");              // not ours: kept
  train::prune_checkpoints(tmp.path(), 2, /*keep_step=*/2);
  std::vector<int64_t> left;
  for (const auto& [s, d] : train::list_checkpoints(tmp.path())) left.push_back(s);
  EXPECT_EQ(left, (std::vector<int64_t>{6, 5, 2, 0}));
  EXPECT_FALSE(fs::exists(train::checkpoints_root(tmp.path()) / ".step_000000007.tmpdir.1.0"));
  train::write_best(tmp.path(), {{"step", 5}, {"score", 0.25}});
  EXPECT_EQ(train::read_best(tmp.path())["score"], 0.25);
  EXPECT_EQ(train::resolve_checkpoint(tmp.path(), /*best=*/true), train::checkpoint_dir(tmp.path(), 5));
}

TEST(Checkpoint, TorchAndStdRngStatesRestore) {
  torch::manual_seed(5);
  core::seed_everything(5);
  const auto torch_state = train::capture_torch_rng();
  const auto std_state = train::capture_std_rng();
  const auto a = torch::rand({4});
  const auto x = core::global_engine()();
  train::restore_torch_rng(torch_state);
  train::restore_std_rng(std_state);
  EXPECT_TRUE(torch::equal(torch::rand({4}), a));
  EXPECT_EQ(core::global_engine()(), x);
  EXPECT_THROW_MSG(train::restore_torch_rng({{"tpu:0", torch::zeros({1}, torch::kUInt8)}}), "unknown generator 'tpu:0'");
}
