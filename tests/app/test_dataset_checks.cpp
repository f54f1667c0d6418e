// The keys that follow the dataset: `auto` in configs read from YAML (model.num_classes,
// model.in_channels, data.modality, data.crop_size), filled at run start from dataset.json and the
// plan, each filled value logged with its source; what the dataset cannot tell is an error naming
// the key. An explicit value that contradicts dataset.json is refused at start, naming the key and
// the dataset field.
#include <gtest/gtest.h>

#include "gtgm/app/dataset_checks.h"
#include "gtgm/app/finetune.h"
#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/data/plan.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/synth.h"
#include "gtgm/models/registry.h"
#include "gtgm/train/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

data::Manifest manifest(const std::string& format, std::vector<std::string> channels,
                        std::map<int64_t, std::string> labels) {
  data::Manifest m;
  m.format = format;
  m.root = "/data/TaskXX";
  m.channel_names = std::move(channels);
  m.labels = std::move(labels);
  return m;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(DatasetChecks, EachContradictionNamesTheKeyAndTheDatasetField) {
  const std::map<int64_t, std::string> four = {{0, "background"}, {1, "a"}, {2, "b"}, {3, "c"}};
  struct Row {
    std::vector<std::string> sets;
    data::Manifest m;
    bool segmentation;
    std::vector<std::string> expected;  // one substring per contradiction; empty = consistent
  };
  const std::vector<Row> rows = {
      {{"model.num_classes=4"}, manifest("msd", {"CT"}, four), true, {}},
      {{"model.num_classes=5"},
       manifest("msd", {"CT"}, four),
       true,
       {"model.num_classes is 5, but /data/TaskXX/dataset.json \"labels\" declares 4 class(es) (0 background, 1 a, 2 "
        "b, 3 c): set model.num_classes: 4 (a class that never occurs"}},
      {{"model.num_classes=3"}, manifest("msd", {"CT"}, four), true, {"labels above it could not be learned"}},
      // Affinity fine-tuning has no classes to compare.
      {{"model.num_classes=3"}, manifest("msd", {"CT"}, four), false, {}},
      // nnU-Net's ignore label is not a class.
      {{"model.num_classes=4"}, manifest("nnunet", {"CT"}, {{0, "background"}, {1, "a"}, {2, "b"}, {3, "c"}, {4, "ignore"}}), true, {}},
      {{"model.num_classes=4", "model.in_channels=1", "data.modality=CT"},
       manifest("msd", {"FLAIR", "T1w", "t1gd", "T2w"}, four),
       true,
       {"model.in_channels is 1, but /data/TaskXX/dataset.json \"modality\" lists 4 channel(s) (FLAIR, T1w, t1gd, T2w): "
        "set model.in_channels: 4",
        "data.modality is CT (Hounsfield-unit clipping and normalisation), but /data/TaskXX/dataset.json \"modality\" "
        "names no CT channel (FLAIR, T1w, t1gd, T2w): set data.modality: MRI"}},
      {{"model.num_classes=4", "data.modality=MRI"}, manifest("nnunet", {"ct"}, four), true,
       {"data.modality is MRI, but /data/TaskXX/dataset.json \"channel_names\" says ct: set data.modality: CT"}},
      {{"model.num_classes=4", "data.modality=MRI", "model.in_channels=2"}, manifest("msd", {"T2", "ADC"}, four), true,
       {}},
      {{"model.num_classes=4", "data.modality=EM"}, manifest("msd", {"CT"}, four), true, {"data.modality is EM"}},
      // CREMI and glob folders have no dataset.json to contradict.
      {{"model.num_classes=9", "model.in_channels=3"}, manifest("cremi", {}, {}), true, {}},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const config::Config cfg = config::default_config(rows[i].sets);
    const std::vector<std::string> got = app::dataset_contradictions(cfg, rows[i].m, rows[i].segmentation);
    ASSERT_EQ(got.size(), rows[i].expected.size()) << "row " << i << ": " << (got.empty() ? "" : got[0]);
    for (size_t k = 0; k < got.size(); ++k)
      EXPECT_NE(got[k].find(rows[i].expected[k]), std::string::npos) << "row " << i << ": " << got[k];
  }
}

TEST(DatasetChecks, FinetuneRefusesAContradictionBeforeWritingTheRunDir) {
  const test::TempDir dir;
  data::PhantomOptions p;
  p.num_train = 2;
  p.num_test = 0;
  p.shape = {8, 16, 16};
  data::write_phantom_task(dir.path() / "task", p);  // labels 0..4, modality CT
  const config::Config cfg = config::default_config(
      {"run.dir=" + (dir.path() / "run").string(), "run.device=cpu", "data.root=" + (dir.path() / "task").string(),
       "data.cache_dir=" + (dir.path() / "cache").string(), "data.modality=MRI", "model.num_classes=3"});
  try {
    app::run_finetune(cfg, app::FinetuneOptions{});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("model.num_classes is 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("data.modality is MRI"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dataset.json"), std::string::npos) << msg;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "run"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "cache"));
}

TEST(DatasetAuto, ConfigFilesDefaultToAutoWhichReadsWritesAndIsDocumented) {
  const config::Config d = config::default_config();
  EXPECT_EQ(d.model.num_classes, 0);
  EXPECT_EQ(d.model.encoder.in_channels, 0);
  EXPECT_EQ(d.data.modality, config::Modality::Auto);
  EXPECT_TRUE(d.data.crop_size.empty());
  // Code that builds a Config directly keeps concrete values.
  const config::Config plain;
  EXPECT_EQ(plain.model.num_classes, 2);
  EXPECT_EQ(plain.model.encoder.in_channels, 1);

  const std::string yaml = config::to_yaml(d);
  for (const char* line : {"num_classes: auto", "in_channels: auto", "modality: auto", "crop_size: auto",
                           "target_spacing: auto"})
    EXPECT_TRUE(has(yaml, line)) << line << "\n" << yaml;
  EXPECT_EQ(config::load_config_string(yaml), d);

  const config::Config set = config::default_config({"model.num_classes=3", "data.crop_size=[8, 16, 16]"});
  EXPECT_EQ(set.model.num_classes, 3);
  EXPECT_EQ(set.data.crop_size, (std::vector<int>{8, 16, 16}));
  const config::Config back = config::load_config_string("model:\n  num_classes: auto\ndata:\n  crop_size: auto\n",
                                                         "x.yaml", {"model.in_channels=auto"});
  EXPECT_EQ(back.model.num_classes, 0);
  EXPECT_EQ(back.model.encoder.in_channels, 0);
  EXPECT_TRUE(back.data.crop_size.empty());

  // 0 is not a spelling of auto, and a word other than auto is an error naming the key.
  for (const auto& [text, part] : std::vector<std::pair<std::string, std::string>>{
           {"model:\n  num_classes: 0\n", "model.num_classes: 0 is out of range; expected >= 1, or auto"},
           {"model:\n  num_classes: many\n", "model.num_classes: expected an integer"},
           {"data:\n  crop_size: [8, 16]\n", "data.crop_size: expected"}}) {
    try {
      config::load_config_string(text, "x.yaml");
      ADD_FAILURE() << "accepted " << text;
    } catch (const ConfigError& e) {
      EXPECT_TRUE(has(e.what(), part)) << e.what();
    }
  }
  const std::string docs = config::config_docs_markdown();
  EXPECT_TRUE(has(docs, "| `model.num_classes` | int | `auto` | >= 1, or auto |")) << docs;
  EXPECT_TRUE(has(docs, "| `data.modality` | string | `auto` |"));
  EXPECT_TRUE(has(docs, "| `data.crop_size` | list[int] | `auto` |"));
}

TEST(DatasetAuto, FillsEachKeyFromTheDatasetAndNamesWhereItCameFrom) {
  const std::map<int64_t, std::string> three = {{0, "background"}, {1, "a"}, {2, "b"}};
  struct Row {
    data::Manifest m;
    bool segmentation;
    std::vector<std::string> sets;
    config::Modality modality;
    int channels, classes;  // classes 0: left auto
    std::vector<std::string> lines;
  };
  const std::vector<Row> rows = {
      {manifest("msd", {"CT"}, three), true, {}, config::Modality::CT, 1, 3,
       {"data.modality: auto = CT (from /data/TaskXX/dataset.json \"modality\")",
        "model.in_channels: auto = 1 (from /data/TaskXX/dataset.json \"modality\")",
        "model.num_classes: auto = 3 (from /data/TaskXX/dataset.json \"labels\")"}},
      {manifest("msd", {"FLAIR", "T1w", "t1gd", "T2w"}, {{0, "bg"}, {1, "a"}, {2, "b"}, {3, "c"}}), true, {},
       config::Modality::MRI, 4, 4, {"data.modality: auto = MRI", "model.in_channels: auto = 4", "num_classes: auto = 4"}},
      // nnU-Net: "channel_names", lower-case ct, and the ignore label is no class.
      {manifest("nnunet", {"ct"}, {{0, "bg"}, {1, "a"}, {2, "b"}, {3, "ignore"}}), true, {}, config::Modality::CT, 1, 3,
       {"dataset.json \"channel_names\")", "model.in_channels: auto = 1", "model.num_classes: auto = 3"}},
      // Pretraining / affinity: no classes needed.
      {manifest("msd", {"CT"}, three), false, {}, config::Modality::CT, 1, 0,
       {"data.modality: auto = CT", "model.in_channels: auto = 1"}},
      {manifest("cremi", {}, {}), false, {}, config::Modality::EM, 1, 0,
       {"data.modality: auto = EM (from data.format cremi)", "model.in_channels: auto = 1 (from data.format cremi)"}},
      // Given values stay (the contradiction check judges them).
      {manifest("msd", {"CT"}, three), true, {"data.modality=MRI", "model.in_channels=2", "model.num_classes=7"},
       config::Modality::MRI, 2, 7, {}},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    config::Config cfg = config::default_config(rows[i].sets);
    const auto lines = app::resolve_dataset_auto(cfg, rows[i].m, rows[i].segmentation);
    EXPECT_EQ(cfg.data.modality, rows[i].modality) << "row " << i;
    EXPECT_EQ(cfg.model.encoder.in_channels, rows[i].channels) << "row " << i;
    EXPECT_EQ(cfg.model.num_classes, rows[i].classes) << "row " << i;
    ASSERT_EQ(lines.size(), rows[i].lines.size()) << "row " << i;
    for (size_t k = 0; k < lines.size(); ++k) EXPECT_TRUE(has(lines[k], rows[i].lines[k])) << "row " << i << ": " << lines[k];
  }

  struct Bad {
    data::Manifest m;
    std::string part;
  };
  const std::vector<Bad> bad = {
      {manifest("msd", {"CT", "PET"}, three), "data.modality is auto, but /data/TaskXX/dataset.json \"modality\" mixes CT "
                                               "with other channels (CT, PET): set data.modality"},
      {manifest("glob", {}, {}), "data.modality is auto, but the glob dataset in /data/TaskXX names no channels"},
      {manifest("msd", {"CT"}, {{0, "background"}}), "model.num_classes is auto, but the msd dataset in /data/TaskXX "
                                                     "declares no foreground labels"},
  };
  for (const auto& b : bad) {
    config::Config cfg = config::default_config({"model.in_channels=1"});
    try {
      app::resolve_dataset_auto(cfg, b.m, true);
      ADD_FAILURE() << "resolved " << b.part;
    } catch (const ConfigError& e) {
      EXPECT_TRUE(has(e.what(), b.part)) << e.what();
    }
  }
}

TEST(DatasetAuto, AModelWithAnUnfilledAutoKeyIsRefusedByName) {
  const config::Config cfg = config::default_config({"model.type=resnet3d", "model.depth=10"});
  try {
    models::build_encoder(cfg.model);
    ADD_FAILURE() << "built a model with model.in_channels: auto";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(has(e.what(), "model.in_channels is auto")) << e.what();
  }
}

TEST(DatasetAuto, FinetuneFillsAutoFromDatasetJsonAndThePlanAndTheRunDirNamesTheValues) {
  const test::TempDir dir;
  data::PhantomOptions p;
  p.num_train = 3;
  p.num_test = 0;
  p.shape = {16, 32, 32};
  data::write_phantom_task(dir.path() / "task", p);  // labels 0..4, modality CT
  const fs::path run = dir.path() / "run";
  const config::Config cfg = config::default_config(
      {"run.dir=" + run.string(), "run.device=cpu", "run.precision=fp32", "run.threads=1",
       "data.root=" + (dir.path() / "task").string(), "data.cache_dir=" + (dir.path() / "cache").string(),
       "data.preprocess.patch_voxels=4096", "data.batch_size=2", "data.num_workers=1", "data.prefetch=1",
       "model.type=resnet3d", "model.depth=10", "model.base_channels=4", "model.embed_dim=16", "train.steps=1",
       "train.validate_every=1", "train.checkpoint_every=1", "train.log_every=1", "optim.warmup_steps=0"});
  ASSERT_EQ(cfg.model.num_classes, 0);
  app::FinetuneOptions o;
  o.predict = false;
  app::run_finetune(cfg, o);

  const data::Plan plan = data::Plan::from_json(core::read_text_file(dir.path() / "cache" / "plan.json"), "plan.json");
  for (const fs::path& file : {run / "config.resolved.yaml", *train::latest_valid_checkpoint(run) / "config.yaml"}) {
    const config::Config saved = config::load_config(file);
    EXPECT_EQ(saved.model.num_classes, 5) << file;
    EXPECT_EQ(saved.model.encoder.in_channels, 1) << file;
    EXPECT_EQ(saved.data.modality, config::Modality::CT) << file;
    ASSERT_EQ(saved.data.crop_size.size(), 3u) << file;
    for (size_t a = 0; a < 3; ++a) EXPECT_EQ(saved.data.crop_size[a], plan.patch_size[a]) << file << " axis " << a;
  }
  const std::string log = core::read_text_file(run / "log.txt");
  EXPECT_TRUE(has(log, "model.num_classes: auto = 5 (from ")) << log;
  EXPECT_TRUE(has(log, "data.crop_size: auto = [")) << log;
}

TEST(DatasetAuto, LabelValuesBeyondTheClassesAreAStartErrorNotAMidRunOne) {
  // `plan` refuses label values dataset.json does not declare. A cache planned before dataset.json
  // was edited down to 3 classes still holds 0..3: auto takes 3 from dataset.json, and the cache's
  // fingerprint (every label file counted) stops the run before its first step.
  const test::TempDir dir;
  data::PhantomOptions p;
  p.num_train = 2;
  p.num_test = 0;
  p.shape = {8, 16, 16};
  data::write_phantom_task(dir.path() / "task", p);
  data::run_preprocess(config::default_config({"data.root=" + (dir.path() / "task").string(),
                                               "data.cache_dir=" + (dir.path() / "cache").string()})
                           .data,
                       42);
  const fs::path json = dir.path() / "task" / "dataset.json";
  std::string text = core::read_text_file(json);
  const auto at = text.find("\"labels\"");
  ASSERT_NE(at, std::string::npos);
  const auto open = text.find('{', at), close = text.find('}', at);
  text.replace(open, close - open + 1, "{\"0\": \"background\", \"1\": \"a\", \"2\": \"b\"}");
  core::atomic_write_text(json, text);
  const config::Config cfg = config::default_config(
      {"run.dir=" + (dir.path() / "run").string(), "run.device=cpu", "data.root=" + (dir.path() / "task").string(),
       "data.cache_dir=" + (dir.path() / "cache").string(), "data.crop_size=[8, 16, 16]", "model.type=resnet3d",
       "model.depth=10", "model.base_channels=4", "train.steps=1"});
  try {
    app::run_finetune(cfg, app::FinetuneOptions{});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(has(e.what(), "model.num_classes is 3, but the label files of " + (dir.path() / "task").string() +
                                  " hold the values 0, 1, 2, 3"))  // class 4 is too small to appear at 8x16x16
        << e.what();
    EXPECT_TRUE(has(e.what(), "set model.num_classes: 4")) << e.what();
  }
  EXPECT_TRUE(train::list_checkpoints(dir.path() / "run").empty());
}
