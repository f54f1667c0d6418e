// `gtgm eval --dry-run` lists what each published number of configs/eval/gtgm13.yaml is compared
// with: the paper-way metric, its definition, the split and recipe, and the run beside each number.
#include <gtest/gtest.h>

#include <sstream>

#include "gtgm/app/suite_comparisons.h"
#include "gtgm/config/suite_config.h"
#include "test_util.h"

using namespace gtgm;

namespace {
const std::filesystem::path kRoot = GTGM_SOURCE_ROOT;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
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
    compared += has(line, "  <-  ");
    without += has(line, "(not published:");
  }
  EXPECT_EQ(compared, published) << text;
  EXPECT_EQ(without, cells - published) << text;
  EXPECT_TRUE(has(text, std::to_string(published) + " published number(s) compared")) << text;

  // PAPER.md: Liver 1% GTGM 52.46, random 45.21; MSD Dice is compared with background, as the reference.
  EXPECT_TRUE(has(text, "    1%   gtgm     paper   52.46  <-  dice_with_bg of ")) << text;
  EXPECT_TRUE(has(text, "    1%   random   paper   45.21  <-  dice_with_bg of ")) << text;
  EXPECT_TRUE(has(text, "/runs/Task03_Liver/gtgm-f")) << text;
  EXPECT_TRUE(has(text, "MONAI DiceMetric(include_background=True), reference finetune/task1.py:318")) << text;
  EXPECT_TRUE(has(text, "split: seed 42 shuffle of dataset.json's list (file order)")) << text;
  // CREMI: VOI on the held-out slices.
  EXPECT_TRUE(has(text, "<-  voi of ")) << text;
  EXPECT_TRUE(has(text, "z split: the first 60% of each volume trains")) << text;
  EXPECT_FALSE(has(text, "does not load")) << text;
}
