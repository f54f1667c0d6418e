// A config that contradicts dataset.json is refused at start, naming the key and the dataset field.
#include <gtest/gtest.h>

#include "gtgm/app/dataset_checks.h"
#include "gtgm/app/finetune.h"
#include "gtgm/config/load.h"
#include "gtgm/data/synth.h"
#include "test_util.h"

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
