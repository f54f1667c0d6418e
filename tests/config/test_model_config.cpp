// model: section: per-axis specs, stage plans and cross-field validation with key-naming messages.
#include "gtgm/config/load.h"
#include "test_util.h"

namespace gtgm::config {
namespace {

TEST(ModelConfig, ParsesPerAxisSpecs) {
  EXPECT_EQ(parse_axis_spec("2", 3, "k"), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(parse_axis_spec("1x2x2", 3, "k"), (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(parse_axis_spec("3 x 1", 2, "k"), (std::vector<int64_t>{3, 1}));
  EXPECT_THROW_MSG(parse_axis_spec("1x2", 3, "model.strides[1]"), "model.strides[1]: '1x2' has 2 axes but model.spatial_dims is 3");
  EXPECT_THROW_MSG(parse_axis_spec("1xa", 2, "key"), "key: '1xa' is not a per-axis size");
  EXPECT_THROW_MSG(parse_axis_spec("0", 2, "key"), "key: '0' is not a per-axis size");
}

TEST(ModelConfig, ResolvesStagePlanDefaults) {
  ModelConfig c;
  c.type = config::EncoderType::ResUNet;
  c.unet.stages = 4;
  c.encoder.base_channels = 32;
  c.encoder.max_channels = 128;
  const auto plan = resolve_stage_plan(c.encoder, c.unet);
  EXPECT_EQ(plan.channels, (std::vector<int64_t>{32, 64, 128, 128}));
  EXPECT_EQ(plan.strides.front(), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(plan.strides.back(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(plan.kernels[2], (std::vector<int64_t>{3, 3, 3}));
  EXPECT_EQ(plan.blocks, (std::vector<int64_t>{1, 1, 1, 1}));
  c.unet.kernels = {"1x3x3", "1x3x3", "3", "4"};
  EXPECT_THROW_MSG(resolve_stage_plan(c.encoder, c.unet), "model.kernels[3]: kernel sizes must be odd");
}

TEST(ModelConfig, YamlWithAnisotropicStagesLoads) {
  const auto cfg = load_config_string(R"(
model:
  type: resunet
  stages: 3
  channels: [8, 16, 32]
  strides: ["1", "1x2x2", "2"]
  kernels: ["1x3x3", "3", "3"]
  blocks: [1, 2, 2]
  norm: instance
)");
  EXPECT_EQ(cfg.model.unet.strides[1], "1x2x2");
  EXPECT_EQ(load_config_string(to_yaml(cfg)), cfg);  // round trip
}

TEST(ModelConfig, CrossFieldProblemsNameTheKeys) {
  EXPECT_THROW_MSG(load_config_string("model:\n  type: resunet\n  stages: 3\n  strides: [\"1\", \"2\"]\n"),
                   "model.strides has 2 entries but model.stages is 3 (give one per stage or [])");
  EXPECT_THROW_MSG(default_config({"model.depth=20"}), "model.depth is 20; resnet3d supports 10, 18, 34, 50, 101, 152");
  EXPECT_THROW_MSG(default_config({"model.type=vit3d", "model.num_heads=5"}),
                   "model.num_heads (5) must divide model.hidden_size (768)");
  EXPECT_THROW_MSG(default_config({"model.type=vit3d", "model.input_size=[32, 160, 150]"}),
                   "model.input_size [32, 160, 150] is not divisible by model.patch_size [16, 16, 16]");
  EXPECT_THROW_MSG(default_config({"model.type=vit3d", "model.decoder=unet"}), "use decoder: unetr with vit3d");
  EXPECT_THROW_MSG(default_config({"model.decoder=unetr"}), "model.decoder: unetr needs model.type: vit3d (got resnet3d)");
  EXPECT_THROW_MSG(default_config({"model.spatial_dims=2"}),
                   "model.stem_kernel [3, 7, 7] and model.stem_stride [1, 2, 2] need 2 entries (model.spatial_dims)");
  EXPECT_THROW_MSG(default_config({"model.norm=group", "model.norm_groups=5"}),
                   "model.norm_groups (5) must divide every channel count; 64 channels do not");
  EXPECT_THROW_MSG(default_config({"model.type=vit3d", "model.patch_size=[4, 16, 12]"}),
                   "unetr needs power-of-two model.patch_size, got [4, 16, 12]");
  // The defaults and the paper's ViT variant are consistent.
  EXPECT_NO_THROW(default_config());
  EXPECT_NO_THROW(default_config({"model.type=vit3d"}));
  EXPECT_NO_THROW(default_config({"model.type=resunet", "model.norm=instance"}));
}

}  // namespace
}  // namespace gtgm::config
