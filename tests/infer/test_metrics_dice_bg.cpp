// Dice with background, the reference's number (MONAI DiceMetric(include_background=True),
// finetune/task1.py:318), beside nnU-Net's foreground Dice. Golden values printed by
// /usr/bin/python3 scripts/reference/dice_bg_reference.py (an independent numpy computation of
// MONAI's definition: a class absent from the reference is NaN and left out, even when predicted;
// case value = mean of its classes; dataset value = mean over cases).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/infer/metrics.h"
#include "gtgm/infer/score.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;

struct DiceBgCase {
  const char* id;
  std::vector<int64_t> ref, pred;  // [2, 3, 4] row-major, as in the script
};

const std::vector<DiceBgCase>& dice_bg_cases() {
  static const std::vector<DiceBgCase> cases = {
      {"case_a",
       {0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 2, 2, 0, 0, 1, 1, 0, 1, 2, 2, 0, 0, 2, 2},
       {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 2, 2, 0, 1, 1, 1, 0, 1, 2, 2, 0, 2, 2, 0}},
      {"case_b",
       {0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0},
       {0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0}},
      {"case_c",
       {2, 2, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       {2, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
  };
  return cases;
}

torch::Tensor dice_bg_volume(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong).view({2, 3, 4}); }

TEST(DiceWithBackground, PerClassAndCaseValuesMatchMonaiDefinition) {
  // script output: per class [bg, 1, 2], None = NaN (absent from the reference)
  const std::vector<std::vector<double>> per_class = {
      {0.8, 0.875, 5.0 / 6.0}, {17.0 / 18.0, 0.8, NAN}, {17.0 / 18.0, NAN, 5.0 / 6.0}};
  const std::vector<double> case_mean = {0.836111111111, 0.872222222222, 0.888888888889};
  for (size_t i = 0; i < 3; ++i) {
    const auto& c = dice_bg_cases()[i];
    const auto p = dice_bg_volume(c.pred), r = dice_bg_volume(c.ref);
    const auto got = infer::class_dice_ignore_empty(p, r, {0, 1, 2});
    ASSERT_EQ(got.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      if (std::isnan(per_class[i][k]))
        EXPECT_TRUE(std::isnan(got[k])) << c.id << " class " << k;
      else
        EXPECT_NEAR(got[k], per_class[i][k], 1e-12) << c.id << " class " << k;
    }
    EXPECT_NEAR(infer::case_dice_with_background(p, r, {0, 1, 2}), case_mean[i], 1e-11) << c.id;
  }
  // No class present in the reference: NaN (MONAI leaves such a case out of the mean).
  EXPECT_TRUE(std::isnan(infer::case_dice_with_background(dice_bg_volume(dice_bg_cases()[0].pred),
                                                          dice_bg_volume(dice_bg_cases()[0].ref), {7})));
  EXPECT_THROW_MSG(infer::class_dice_ignore_empty(torch::zeros({2, 3}), torch::zeros({3, 2}), {0}),
                   "differ in shape");
}

TEST(DiceWithBackground, ScoreReportsBothMeans) {
  test::TempDir dir;
  fs::create_directories(dir / "pred");
  fs::create_directories(dir / "ref");
  for (const auto& c : dice_bg_cases()) {
    for (const auto& [sub, values] : {std::pair{"pred", c.pred}, std::pair{"ref", c.ref}}) {
      io::Volume v;
      v.data = dice_bg_volume(values).to(torch::kUInt8).unsqueeze(0);
      io::write_volume(v, dir / sub / (std::string(c.id) + ".nii.gz"));
    }
  }
  infer::ScoreOptions opt;
  opt.pred = dir / "pred";
  opt.ref = dir / "ref";
  const auto s = infer::run_score(opt);
  // script: dice_with_bg (MONAI aggregate) 0.865740740741; nnU-Net foreground 0.696527777778
  EXPECT_NEAR(s.mean.at(infer::kDiceWithBackground), 0.865740740741, 1e-11);
  EXPECT_NEAR(s.mean.at("dice"), 0.696527777778, 1e-11);
  EXPECT_NEAR(s.cases[1].instance.at(infer::kDiceWithBackground), 0.872222222222, 1e-11);
  const auto j = nlohmann::json::parse(core::read_text_file(dir / "pred" / "summary.json"));
  EXPECT_NEAR(j.at("mean").at("dice_with_bg").get<double>(), 0.865740740741, 1e-11);
  EXPECT_NEAR(j.at("cases")[0].at("dice_with_bg").get<double>(), 0.836111111111, 1e-11);
  const std::string table = infer::format_score_table(s);
  EXPECT_NE(table.find("dice_with_bg 0.8657 (mean over cases"), std::string::npos) << table;
  // With --labels 1 only: background + class 1 (class 2 not scored): case_c has only the background.
  opt.labels = {1};
  const auto s1 = infer::run_score(opt);
  EXPECT_NEAR(s1.cases[2].instance.at(infer::kDiceWithBackground), 17.0 / 18.0, 1e-12);
  EXPECT_NEAR(s1.cases[0].instance.at(infer::kDiceWithBackground), (0.8 + 0.875) / 2, 1e-12);
  // Without dice among the metrics there is no dice_with_bg.
  opt.metrics = {"hd95"};
  EXPECT_EQ(infer::run_score(opt).mean.count(infer::kDiceWithBackground), 0u);
}

}  // namespace
}  // namespace gtgm
