// `gtgm probe` end to end: a tiny pretraining run on synthetic CT phantoms (real cache, captions,
// tiny BERT), then the probe as a library call and through the binary with --json; and the
// majority label of a crop box on a known volume. The diagnostics' known answers (one-hot
// features -> 100%, random -> chance, effective rank vs numpy) are in tests/infer/test_representation.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gtgm/app/probe.h"
#include "gtgm/app/run_pretrain.h"
#include "gtgm/config/load.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/synth.h"
#include "gtgm/text/caption_cache.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

TEST(Probe, MajorityLabelCountsTheCropBox) {
  auto label = torch::zeros({6, 6, 6}, torch::kLong);
  label.index_put_({torch::indexing::Slice(0, 3), torch::indexing::Slice(0, 3), torch::indexing::Slice(0, 3)}, 2);
  // Box [0, 2]^3 (corner 0, centre 1): all 2.
  EXPECT_EQ(app::majority_label(label, {0, 0, 0}, {1, 1, 1}), 2);
  // Box [0, 4]^3: 27 voxels of 2 against 98 of 0.
  EXPECT_EQ(app::majority_label(label, {0, 0, 0}, {2, 2, 2}), 0);
  // Clipped at the volume's end: box [4, 5]^3 (asks for [4, 8]).
  EXPECT_EQ(app::majority_label(label, {4, 4, 4}, {6, 6, 6}), 0);
  EXPECT_THROW_MSG(app::majority_label(label[0], {0, 0, 0}, {1, 1, 1}), "expected a [D, H, W] label volume");
}

TEST(Probe, RunsOnATinyPretrainingRunBesideARandomEncoder) {
  test::TempDir dir;
  data::PhantomOptions p;
  p.modality = "CT";
  p.num_train = 4;
  p.num_test = 0;
  p.shape = {16, 32, 32};
  data::write_phantom_task(dir / "task", p);
  const std::string yaml = fmt::format(R"(run:
  dir: {0}/run
  device: cpu
  precision: fp32
  threads: 1
  log_level: warn
data:
  root: {0}/task
  cache_dir: {0}/cache
  modality: CT
  crop_size: [8, 24, 24]
  batch_size: 4
  num_workers: 1
  prefetch: 2
model:
  type: resnet3d
  depth: 10
  base_channels: 4
  embed_dim: 16
  proj_hidden: 16
  proj_dim: 8
  text_embed_dim: 12
text:
  model_dir: {1}
  max_length: 32
  caption_cache: {0}/captions.jsonl
  caption_prefix: none        # texts as written (the volume-name prefix would make every text distinct)
optim:
  lr: 1.0e-3
train:
  steps: 3
  checkpoint_every: 3
)",
                                       dir.path().string(), test::bert_tiny_dir().string());
  test::write_file(dir / "pretrain.yaml", yaml);
  const auto cfg = config::load_config(dir / "pretrain.yaml");
  data::run_preprocess(cfg.data, cfg.run.seed);
  {
    text::CaptionWriter w(dir / "captions.jsonl");
    // 4 volumes x 2 rows; the first two volumes share their texts: 6 distinct caption texts.
    int v = 0;
    for (const auto& e : data::read_cache_index(dir / "cache")) {
      const std::string prefix = v++ < 2 ? std::string("shared") : e.id;
      for (int z : {0, 8}) w.append({e.id, {z, 16, 16}, prefix + " liver, slice " + std::to_string(z), "template", ""});
    }
  }
  app::run_pretrain(cfg, {});

  app::ProbeOptions o;
  o.crops = 24;
  o.probe_steps = 30;
  const auto r = app::run_probe(dir / "run", cfg, o);
  EXPECT_EQ(r.step, 3);
  EXPECT_EQ(r.crops, 24);
  EXPECT_EQ(r.seed, static_cast<uint64_t>(cfg.run.seed + 1));
  // Captions are told apart by their text (not by cache row or by the embedding, whose last bits
  // vary with the padded batch of the frozen encoder): at most the 6 distinct texts.
  EXPECT_GE(r.captions, 2);
  EXPECT_LE(r.captions, 6);
  ASSERT_EQ(r.encoders.size(), 2u);
  EXPECT_EQ(r.encoders[0].name, "pretrained");
  EXPECT_EQ(r.encoders[1].name, "random");
  int64_t labelled = 0;
  for (const auto& [k, v] : r.labels) labelled += v;
  EXPECT_EQ(labelled, 24);  // the phantoms have labels: one majority label per crop
  for (const auto& e : r.encoders) {
    ASSERT_TRUE(e.retrieval.has_value()) << e.name;
    EXPECT_EQ(e.retrieval->images, 24);
    EXPECT_EQ(e.retrieval->captions, r.captions);
    EXPECT_NEAR(e.retrieval->image_to_text_chance[0], 1.0 / static_cast<double>(r.captions), 1e-12);
    EXPECT_EQ(e.spread.dims, 16);
    EXPECT_GT(e.effective_rank, 1.0);
    EXPECT_LE(e.effective_rank, 16.0);
    EXPECT_EQ(e.probe.has_value(), r.labels.size() >= 2) << r.probe_note;
  }
  // The two encoders differ (the checkpoint was loaded into one of them).
  EXPECT_NE(r.encoders[0].effective_rank, r.encoders[1].effective_rank);
  const std::string text = app::format_probe_text(r);
  EXPECT_NE(text.find("image->text top-1"), std::string::npos) << text;
  EXPECT_NE(text.find("effective rank of E"), std::string::npos) << text;

  const auto cli = test::run_gtgm(fmt::format("probe {} --config {} --crops 24 --probe-steps 30 --json",
                                              (dir / "run").string(), (dir / "pretrain.yaml").string()));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  const auto j = nlohmann::json::parse(cli.output.substr(cli.output.find('{')));
  EXPECT_EQ(j["schema"], "gtgm-probe/1");
  EXPECT_EQ(j["crops"], 24);
  ASSERT_EQ(j["encoders"].size(), 2u);
  EXPECT_EQ(j["encoders"][1]["name"], "random");
  // Same seed, same crops, same numbers as the library call (up to thread-count rounding).
  EXPECT_NEAR(j["encoders"][0]["effective_rank"].get<double>(), r.encoders[0].effective_rank, 1e-6);
  const auto bad =
      test::run_gtgm(fmt::format("probe {} --config {}", (dir / "nope").string(), (dir / "pretrain.yaml").string()));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("nope"), std::string::npos) << bad.output;
}

}  // namespace
