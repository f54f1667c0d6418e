// `gtgm info --model CONFIG`: the real binary prints feature maps and parameter counts.
#include <fmt/format.h>

#include <filesystem>

#include "test_util.h"

namespace gtgm {
namespace {

/// One row of the parameter tables, formatted like models::describe_models.
std::string row(const std::string& name, int64_t n) { return fmt::format("  {:<12} {:>13}  (", name, n); }

TEST(ModelsCli, InfoModelPrintsParameterCounts) {
  if (!std::filesystem::exists(GTGM_BINARY)) GTEST_SKIP() << "gtgm binary not built in this subset build";
  test::TempDir dir;
  const auto tiny = dir / "tiny.yaml";
  test::write_file(tiny, R"(model:
  type: resunet
  stages: 2
  channels: [2, 4]
  embed_dim: 0
  proj_hidden: 6
  proj_dim: 4
  text_embed_dim: 5
  num_classes: 3
)");
  auto r = test::run_gtgm("info --model " + tiny.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // encoder 962 (see test_encoders.cpp); vision_proj 4->6->4: 30 + 12 + 28 = 70; text_proj 5->6->4: 36 + 12 + 28 = 76
  EXPECT_NE(r.output.find("encoder  resunet (3D, in_channels 1, embedding 4)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[1]     4 @ 2x2x2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(row("vision_proj", 70)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(row("total", 1108)), std::string::npos) << r.output;
  // segmentation: 962 + decoder 398 + head 9
  EXPECT_NE(r.output.find(row("total", 1369)), std::string::npos) << r.output;

  // The paper's ResNet-50 (defaults): 46,142,528 encoder parameters.
  const auto paper = dir / "paper.yaml";
  test::write_file(paper, "model:\n  type: resnet3d\n");
  r = test::run_gtgm("info --model " + paper.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(row("encoder", 46142528) + "46.14 M)"), std::string::npos) << r.output;

  r = test::run_gtgm("info --model " + tiny.string() + " --set model.strides=[\"1\"]");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("model.strides has 1 entries but model.stages is 2"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace gtgm
