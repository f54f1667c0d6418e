// The shipped suite files: configs/eval/gtgm13.yaml carries PAPER.md's published numbers, and
// every dataset of gtgm13 and demo13 resolves to a fine-tuning config with the task's channels,
// classes and metric (demo13's also matching the synthetic stand-ins); `gtgm eval --dry-run` lists
// what each published number of gtgm13 is compared with.
#include <gtest/gtest.h>

#include <sstream>

#include "gtgm/app/suite.h"
#include "gtgm/app/suite_comparisons.h"
#include "gtgm/config/suite_config.h"
#include "gtgm/data/synth.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

const fs::path kRoot = GTGM_SOURCE_ROOT;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const config::SuiteDataset& dataset(const config::SuiteConfig& s, const std::string& name) {
  for (const auto& d : s.datasets)
    if (d.name == name) return d;
  throw std::runtime_error("no dataset " + name);
}

std::vector<std::string> all13() {
  std::vector<std::string> names;
  for (const auto& t : data::decathlon_tasks()) names.push_back(t.folder);
  for (const char* c : {"CREMI_A", "CREMI_B", "CREMI_C"}) names.emplace_back(c);
  return names;
}

// Each dataset's resolved fine-tuning config has the task's channels, classes and task type.
void expect_consistent(const config::SuiteConfig& s) {
  ASSERT_EQ(s.datasets.size(), 13u);
  for (size_t i = 0; i < 13; ++i) EXPECT_EQ(s.datasets[i].name, all13()[i]);
  for (const auto& d : s.datasets) {
    for (const auto& init : s.inits) {
      const auto cfg = app::run_config(s, d, d.label_fractions.back(), init);
      EXPECT_EQ(cfg.train.init, init.path) << d.name;
      EXPECT_EQ(cfg.data.label_fraction, d.label_fractions.back()) << d.name;
      if (d.name.rfind("CREMI_", 0) == 0) {
        EXPECT_EQ(cfg.finetune.task, config::FinetuneTask::Affinity) << d.name;
        EXPECT_EQ(cfg.data.format, config::DataFormat::CREMI) << d.name;
        EXPECT_EQ(d.metric, "voi") << d.name;
      } else {
        const auto& spec = data::decathlon_task(d.name);
        EXPECT_EQ(cfg.finetune.task, config::FinetuneTask::Segmentation) << d.name;
        EXPECT_EQ(cfg.model.encoder.in_channels, static_cast<int>(spec.channels.size())) << d.name;
        EXPECT_EQ(cfg.model.num_classes, static_cast<int>(spec.labels.size())) << d.name;
        EXPECT_EQ(config::to_string(cfg.data.modality), spec.modality) << d.name;
        EXPECT_EQ(d.metric, "dice") << d.name;
      }
    }
  }
}

TEST(SuiteConfigs, Gtgm13HasThePublishedNumbers) {
  const auto s = config::load_suite_config(kRoot / "configs/eval/gtgm13.yaml", {"data_root_env="});
  EXPECT_EQ(s.label_fractions, (std::vector<double>{0.01, 0.1, 1.0}));
  ASSERT_EQ(s.inits.size(), 2u);
  EXPECT_EQ(s.inits[0].name, "gtgm");
  EXPECT_EQ(s.inits[1].path, "");
  // PAPER.md, "Published numbers": Dice % at 1/10/100% labels, GTGM vs random init.
  const std::vector<std::tuple<std::string, std::vector<double>, std::vector<double>>> dice = {
      {"Task03_Liver", {52.46, 58.67, 65.61}, {45.21, 51.24, 61.34}},
      {"Task07_Pancreas", {40.55, 59.96, 65.61}, {37.07, 56.21, 63.96}},
      {"Task06_Lung", {46.45, 61.30, 80.19}, {41.67, 57.36, 73.49}},
      {"Task01_BrainTumour", {33.19, 34.12, 45.23}, {}},
      {"Task02_Heart", {72.83, 86.33, 94.71}, {}},
      {"Task04_Hippocampus", {53.41, 79.01, 84.92}, {}},
      {"Task05_Prostate", {34.84, 40.93, 44.24}, {}},
      {"Task08_HepaticVessel", {}, {}},
      {"Task09_Spleen", {}, {}},
      {"Task10_Colon", {}, {}}};
  for (const auto& [name, gtgm, random] : dice) {
    const auto& d = dataset(s, name);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(s.paper_value(d, "gtgm", k), gtgm.empty() ? std::nullopt : std::optional<double>(gtgm[k])) << name;
      EXPECT_EQ(s.paper_value(d, "random", k), random.empty() ? std::nullopt : std::optional<double>(random[k]))
          << name;
    }
  }
  // CREMI VOI at "10%" / "75%" labels.
  const std::vector<std::pair<std::string, std::vector<double>>> voi = {
      {"CREMI_A", {0.882, 0.709}}, {"CREMI_B", {1.474, 1.247}}, {"CREMI_C", {1.378, 1.245}}};
  for (const auto& [name, v] : voi) {
    const auto& d = dataset(s, name);
    EXPECT_EQ(d.fraction_labels, (std::vector<std::string>{"10%", "75%"}));
    for (size_t k = 0; k < 2; ++k) {
      EXPECT_EQ(s.paper_value(d, "gtgm", k), v[k]) << name;
      EXPECT_FALSE(s.paper_value(d, "random", k).has_value()) << name;
    }
  }
  expect_consistent(s);
}

TEST(SuiteConfigs, Demo13MatchesTheStandIns) {
  const auto s = config::load_suite_config(kRoot / "configs/eval/demo13.yaml");
  const std::string demo = (kRoot / "demo_run").lexically_normal().string();
  EXPECT_EQ(s.data_root, demo + "/data");  // never the environment's real data
  EXPECT_EQ(s.label_fractions, (std::vector<double>{1.0}));
  EXPECT_EQ(s.inits[0].path, demo + "/pretrain");
  expect_consistent(s);
  // The demo encoder of configs/demo/pretrain.yaml.
  const auto cfg = app::run_config(s, s.datasets[0], 1.0, s.inits[0]);
  EXPECT_EQ(cfg.model.type, config::EncoderType::ResNet3d);
  EXPECT_EQ(cfg.model.resnet3d.depth, 18);
  EXPECT_EQ(cfg.model.encoder.base_channels, 8);
  EXPECT_EQ(cfg.data.root, demo + "/data/Task01_BrainTumour");
  EXPECT_EQ(cfg.run.dir, demo + "/eval13/runs/Task01_BrainTumour/gtgm-f1");
}

}  // namespace

TEST(SuiteComparisons, EveryPublishedNumberOfGtgm13NamesTheMetricAndTheRunBesideIt) {
  const auto suite = config::load_suite_config(kRoot / "configs/eval/gtgm13.yaml", {"data_root_env="});
  const std::string text = app::paper_comparisons(suite);
  size_t published = 0, cells = 0;
  for (const auto& ds : suite.datasets)
    for (const auto& [init, values] : ds.paper) {
      cells += values.size();
      for (const auto& v : values) published += v.has_value();
    }
  ASSERT_GT(published, 30u);
  std::istringstream lines(text);
  size_t compared = 0, without = 0;
  for (std::string line; std::getline(lines, line);) {
    compared += contains(line, "  <-  ");
    without += contains(line, "(not published:");
  }
  EXPECT_EQ(compared, published) << text;
  EXPECT_EQ(without, cells - published) << text;
  EXPECT_TRUE(contains(text, std::to_string(published) + " published number(s) compared")) << text;

  // PAPER.md: Liver 1% GTGM 52.46, random 45.21; MSD Dice is compared with background, as the reference.
  EXPECT_TRUE(contains(text, "     1% gtgm     paper   52.46  <-  dice_with_bg of ")) << text;
  EXPECT_TRUE(contains(text, "     1% random   paper   45.21  <-  dice_with_bg of ")) << text;
  EXPECT_TRUE(contains(text, "/runs/Task03_Liver/gtgm-f")) << text;
  EXPECT_TRUE(contains(text, "MONAI DiceMetric(include_background=True), reference finetune/task1.py:318")) << text;
  EXPECT_TRUE(contains(text, "split: seed 42 shuffle of dataset.json's list (file order)")) << text;
  // CREMI: VOI on the held-out slices.
  EXPECT_TRUE(contains(text, "<-  voi of ")) << text;
  EXPECT_TRUE(contains(text, "z split: the first 60% of each volume trains")) << text;
  EXPECT_FALSE(contains(text, "does not load")) << text;
}
