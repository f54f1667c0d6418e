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

TEST(ModelsCli, InfoModelShowsResNet50Layer4At8x32x32ForThePaperCrop) {
  if (!std::filesystem::exists(GTGM_BINARY)) GTEST_SKIP() << "gtgm binary not built in this subset build";
  // The paper config: stem conv stride 1x2x2 and max-pool stride 1x2x2 as in the reference code
  // (pretrain/utils/utils_resnet3d.py:26,30); a 24x224x224 crop ends at 3x7x7.
  const std::string config = std::string(GTGM_SOURCE_ROOT) + "/configs/pretrain/ct.yaml";
  auto r = test::run_gtgm("info --model " + config);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("features (channels @ stride D, H, W -> size for a 24x224x224 input"), std::string::npos)
      << r.output;
  for (const char* line : {"[0]    64 @ 1x2x2 -> 24x112x112", "[1]   256 @ 1x4x4 -> 24x56x56",
                           "[2]   512 @ 2x8x8 -> 12x28x28", "[3]  1024 @ 4x16x16 -> 6x14x14",
                           "[4]  2048 @ 8x32x32 -> 3x7x7", "input sizes: multiples of 8x32x32 for segmentation"}) {
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
  }
  // gtgm's earlier stem (pool stride 2 on every axis) put layer4 at 16x32x32, 2x7x7.
  r = test::run_gtgm("info --model " + config + " --set model.stem_pool_stride=[2,2,2]");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[4]  2048 @ 16x32x32 -> 2x7x7"), std::string::npos) << r.output;
  // The EM crop of configs/pretrain/em.yaml.
  r = test::run_gtgm("info --model " + std::string(GTGM_SOURCE_ROOT) + "/configs/pretrain/em.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[4]  2048 @ 8x32x32 -> 3x5x5"), std::string::npos) << r.output;
  r = test::run_gtgm("info --model " + config + " --set model.stem_pool_stride=[1,2]");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("model.stem_pool_stride [1, 2] needs 3 entries (model.spatial_dims)"), std::string::npos)
      << r.output;
}

TEST(ModelsCli, InfoModelResolvesTheSwinAndUnetrConfigs) {
  if (!std::filesystem::exists(GTGM_BINARY)) GTEST_SKIP() << "gtgm binary not built in this subset build";
  // configs/pretrain/ct_swin.yaml: the reference's SwinUNETR encoder (feature 48, depths 2, 4, 2, 2) on
  // 32x160x160; encoder = swinViT 8,312,046 + encoder10 31,850,496 (+ 3,072 affine) + Linear 1,574,912.
  auto r = test::run_gtgm("info --model " + std::string(GTGM_SOURCE_ROOT) + "/configs/pretrain/ct_swin.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* line : {"encoder  swin3d (3D, in_channels 1, embedding 2048)", "[0]    48 @ 2x2x2 -> 16x80x80",
                           "[3]   384 @ 16x16x16 -> 2x10x10", "[4]   768 @ 32x32x32 -> 1x5x5",
                           "input sizes: multiples of 32x32x32 for segmentation"}) {
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
  }
  EXPECT_NE(r.output.find(row("encoder", 41740526)), std::string::npos) << r.output;
  // configs/finetune/cremi/A_unetr.yaml: ViT-B, patch 4x16x16, 32x160x160 (NeuronSeg/config/seg_3d.yaml:4-8).
  r = test::run_gtgm("info --model " + std::string(GTGM_SOURCE_ROOT) + "/configs/finetune/cremi/A_unetr.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* line : {"encoder  vit3d (3D, in_channels 1, embedding 768)", "[3]   768 @ 4x16x16 -> 8x10x10",
                           "input sizes: multiples of 4x16x16 for segmentation"}) {
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
  }
}

}  // namespace
}  // namespace gtgm
