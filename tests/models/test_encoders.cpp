// Encoders: shapes over tables of configurations (2D/3D, anisotropic), gradients, parameter counts
// (hand-computed small configurations, the Python-computed ResNet-50 3D figure), checkpoint keys,
// errors naming sizes.
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "gtgm/config/load.h"
#include "gtgm/models/registry.h"
#include "test_util.h"

namespace gtgm::models {
namespace {

config::ModelConfig tiny(const std::string& type) {
  config::ModelConfig c;
  c.type = *config::parse_enum<config::EncoderType>(type);
  c.encoder.base_channels = 2;
  c.encoder.embed_dim = 0;
  c.encoder.norm = config::Norm::Batch;
  c.unet.stages = 2;
  c.unet.channels = {2, 4};
  c.resnet3d.depth = 10;
  c.vit3d.patch_size = {2, 4, 4};
  c.vit3d.input_size = {4, 8, 8};
  c.vit3d.hidden_size = 12;
  c.vit3d.num_heads = 3;
  c.vit3d.mlp_dim = 20;
  c.vit3d.num_layers = 2;
  return c;
}

Shape sizes(const torch::Tensor& t) { return Shape(t.sizes().begin(), t.sizes().end()); }

struct EncoderCase {
  std::string name;
  std::vector<std::string> sets;  // applied to the tiny config via model_config fields below
  config::ModelConfig cfg;
  Shape input;
  std::vector<Shape> feature_shapes;
  int64_t embed;
};

std::vector<EncoderCase> encoder_cases() {
  std::vector<EncoderCase> cases;
  {
    auto c = tiny("resnet3d");  // stem 1x2x2, pool 1x2x2, layers 1,2,2,2
    cases.push_back({"resnet10_3d", {}, c, {2, 1, 8, 16, 16},
                     {{2, 2, 8, 8, 8}, {2, 2, 8, 4, 4}, {2, 4, 4, 2, 2}, {2, 8, 2, 1, 1}, {2, 16, 1, 1, 1}}, 16});
  }
  {
    auto c = tiny("resnet3d");  // gtgm's earlier stem: pool stride 2 on every axis
    c.resnet3d.stem_pool_stride = {2, 2, 2};
    cases.push_back({"resnet10_3d_pool2", {}, c, {2, 1, 8, 16, 16},
                     {{2, 2, 8, 8, 8}, {2, 2, 4, 4, 4}, {2, 4, 2, 2, 2}, {2, 8, 1, 1, 1}, {2, 16, 1, 1, 1}}, 16});
  }
  {
    auto c = tiny("resnet3d");
    c.resnet3d.depth = 50;
    c.encoder.base_channels = 1;
    c.encoder.in_channels = 2;  // bottleneck x4 expansion; sizes round up at odd sizes
    cases.push_back({"resnet50_3d_odd", {}, c, {1, 2, 5, 12, 10},
                     {{1, 1, 5, 6, 5}, {1, 4, 5, 3, 3}, {1, 8, 3, 2, 2}, {1, 16, 2, 1, 1}, {1, 32, 1, 1, 1}}, 32});
  }
  {
    auto c = tiny("resnet3d");
    c.encoder.spatial_dims = 2;
    c.resnet3d.stem_kernel = {7, 7};
    c.resnet3d.stem_stride = {2, 2};
    c.resnet3d.stem_pool = false;
    c.encoder.embed_dim = 24;  // adds the Linear "embed"
    cases.push_back({"resnet10_2d_embed", {}, c, {3, 1, 32, 16},
                     {{3, 2, 16, 8}, {3, 2, 16, 8}, {3, 4, 8, 4}, {3, 8, 4, 2}, {3, 16, 2, 1}}, 24});
  }
  {
    auto c = tiny("resunet");
    cases.push_back({"resunet_3d", {}, c, {2, 1, 4, 6, 8}, {{2, 2, 4, 6, 8}, {2, 4, 2, 3, 4}}, 4});
  }
  {
    auto c = tiny("resunet");  // EM-like anisotropic strides and kernels, 3 stages, group norm
    c.unet.stages = 3;
    c.unet.channels = {4, 8, 8};
    c.unet.strides = {"1", "1x2x2", "2"};
    c.unet.kernels = {"1x3x3", "3", "3"};
    c.unet.blocks = {1, 2, 1};
    c.encoder.norm = config::Norm::Group;
    c.encoder.norm_groups = 2;
    c.encoder.activation = config::Activation::LeakyReLU;
    cases.push_back({"resunet_3d_aniso", {}, c, {1, 1, 4, 16, 8},
                     {{1, 4, 4, 16, 8}, {1, 8, 4, 8, 4}, {1, 8, 2, 4, 2}}, 8});
  }
  {
    auto c = tiny("unet");
    c.encoder.spatial_dims = 2;
    c.encoder.norm = config::Norm::Instance;
    cases.push_back({"unet_2d", {}, c, {2, 1, 10, 6}, {{2, 2, 10, 6}, {2, 4, 5, 3}}, 4});
  }
  {
    auto c = tiny("vit3d");  // anisotropic patch, learnable pos embeddings at the reference size
    cases.push_back({"vit3d_learnable", {}, c, {2, 1, 4, 8, 8}, {{2, 12, 2, 2, 2}, {2, 12, 2, 2, 2}}, 12});
  }
  {
    auto c = tiny("vit3d");  // other input size -> interpolated pos embeddings
    cases.push_back({"vit3d_interp", {}, c, {1, 1, 6, 12, 4}, {{1, 12, 3, 3, 1}, {1, 12, 3, 3, 1}}, 12});
  }
  {
    auto c = tiny("vit3d");
    c.vit3d.pos_embed = config::PosEmbed::SinCos;
    c.encoder.spatial_dims = 2;
    c.vit3d.patch_size = {4, 2};
    c.vit3d.input_size = {8, 8};
    c.encoder.embed_dim = 7;
    cases.push_back({"vit2d_sincos", {}, c, {2, 1, 12, 6}, {{2, 12, 3, 3}, {2, 12, 3, 3}}, 7});
  }
  return cases;
}

TEST(ModelsEncoders, ShapesOverConfigTable) {
  torch::manual_seed(0);
  for (const auto& c : encoder_cases()) {
    SCOPED_TRACE(c.name);
    auto enc = build_encoder(c.cfg);
    ASSERT_EQ(enc->feature_info().size(), c.feature_shapes.size());
    const auto out = enc->forward(torch::randn(c.input));
    ASSERT_EQ(out.features.size(), c.feature_shapes.size());
    for (size_t i = 0; i < c.feature_shapes.size(); ++i) {
      EXPECT_EQ(sizes(out.features[i]), c.feature_shapes[i]) << "feature " << i;
      EXPECT_EQ(out.features[i].size(1), enc->feature_info()[i].channels) << "feature " << i;
    }
    EXPECT_EQ(sizes(out.pooled), (Shape{c.input[0], c.embed}));
    EXPECT_EQ(enc->embed_dim(), c.embed);
    EXPECT_TRUE(torch::isfinite(out.pooled).all().item<bool>());
  }
}

TEST(ModelsEncoders, GradientsReachEveryParameter) {
  torch::manual_seed(1);
  for (const auto& c : encoder_cases()) {
    SCOPED_TRACE(c.name);
    auto enc = build_encoder(c.cfg);
    enc->train();
    auto x = torch::randn(c.input, torch::requires_grad());
    const auto out = enc->forward(x);
    auto loss = out.pooled.pow(2).sum();
    for (const auto& f : out.features) loss = loss + f.mean();
    loss.backward();
    for (const auto& p : enc->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    }
    EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
  }
}

TEST(ModelsEncoders, FeatureStridesDescribeTheMaps) {
  auto cfg = config::ModelConfig{};  // the paper's ResNet-50: conv1 and max-pool stride 1x2x2
  auto enc = build_encoder(cfg);
  const std::vector<Shape> strides = {{1, 2, 2}, {1, 4, 4}, {2, 8, 8}, {4, 16, 16}, {8, 32, 32}};
  const std::vector<int64_t> channels = {64, 256, 512, 1024, 2048};
  ASSERT_EQ(enc->feature_info().size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(enc->feature_info()[i].stride, strides[i]);
    EXPECT_EQ(enc->feature_info()[i].channels, channels[i]);
  }
  EXPECT_EQ(enc->embed_dim(), 2048);
  EXPECT_EQ(enc->size_divisor(), (Shape{8, 32, 32}));
}

TEST(ModelsEncoders, ParameterCountsByHand) {
  // resunet, 3D, channels [2, 4], batch norm (2 params per channel), no embed:
  //   stem conv 1->2 (3^3) 54 + norm 4 = 58
  //   stage0 residual 2->2: 108 + 4 + 108 + 4 = 224 (identity shortcut)
  //   stage1 residual 2->4 stride 2: 216 + 8 + 432 + 8 + skip 8 + skip_norm 8 = 680   -> 962
  EXPECT_EQ(count_parameters(*build_encoder(tiny("resunet"))), 962);
  // unet (plain double convs): 58 + 224 + (216 + 8 + 432 + 8) = 946
  EXPECT_EQ(count_parameters(*build_encoder(tiny("unet"))), 946);
  // + Linear embed 4 -> 16 (64 + 16)
  auto with_embed = tiny("resunet");
  with_embed.encoder.embed_dim = 16;
  EXPECT_EQ(count_parameters(*build_encoder(with_embed)), 962 + 80);
  // resnet3d depth 10, base 2: conv1 2*1*3*7*7 = 294 + bn 4; layer1 224; layer2 680;
  // layer3 864 + 16 + 1728 + 16 + 32 + 16 = 2672; layer4 3456 + 32 + 6912 + 32 + 128 + 32 = 10592
  EXPECT_EQ(count_parameters(*build_encoder(tiny("resnet3d"))), 298 + 224 + 680 + 2672 + 10592);
  // vit3d hidden 12, mlp 20, patch 2x4x4 (32 voxels), 8 tokens, 2 layers:
  //   patch_embed 12*32 + 12 = 396; pos_embed 8*12 = 96
  //   block: norm1 24, qkv 12*36 + 36 = 468, proj 156, norm2 24, fc1 260, fc2 252 = 1184 (x2)
  //   norm 24  -> 2884; sin-cos embeddings have no parameters (-96)
  EXPECT_EQ(count_parameters(*build_encoder(tiny("vit3d"))), 2884);
  auto sincos = tiny("vit3d");
  sincos.vit3d.pos_embed = config::PosEmbed::SinCos;
  EXPECT_EQ(count_parameters(*build_encoder(sincos)), 2884 - 96);
  // projection head 8 -> 6 -> 4: fc1 54, bn1 12, fc2 28 (the optional output BN is not affine)
  EXPECT_EQ(count_parameters(*ProjectionHead(8, 6, 4, false)), 94);
  EXPECT_EQ(count_parameters(*ProjectionHead(8, 6, 4, true)), 94);
}

nlohmann::json resnet_reference() {
  std::ifstream in(std::string(GTGM_TEST_DATA_DIR) + "/models/resnet3d_reference.json");
  EXPECT_TRUE(in.good());
  return nlohmann::json::parse(in);
}

TEST(ModelsEncoders, ResNet3dCountsMatchPythonReference) {
  // scripts/reference/models_reference.py: ResNet-50 3D (1 input channel, 3x7x7 stem) has
  // 46,142,528 parameters; the paper model is built but never run at full size here.
  const auto ref = resnet_reference();
  EXPECT_EQ(ref["parameters"]["50"].get<int64_t>(), 46142528);
  for (int depth : {10, 18, 34, 50}) {
    config::ModelConfig cfg;
    cfg.resnet3d.depth = depth;
    cfg.encoder.embed_dim = 0;
    EXPECT_EQ(count_parameters(*build_encoder(cfg)), ref["parameters"][std::to_string(depth)].get<int64_t>())
        << "depth " << depth;
  }
}

TEST(ModelsEncoders, ResNet3dCheckpointKeysMatchReferenceLayout) {
  const auto ref = resnet_reference();
  for (int depth : {18, 50}) {
    config::ModelConfig cfg;
    cfg.resnet3d.depth = depth;
    cfg.encoder.embed_dim = 0;
    auto enc = build_encoder(cfg);
    std::map<std::string, Shape> ours;
    for (const auto& p : enc->named_parameters()) ours[p.key()] = sizes(p.value());
    for (const auto& b : enc->named_buffers()) ours[b.key()] = sizes(b.value());
    const auto& keys = ref["keys"][std::to_string(depth)];
    EXPECT_EQ(ours.size(), keys.size()) << "depth " << depth;
    for (auto it = keys.begin(); it != keys.end(); ++it) {
      ASSERT_TRUE(ours.count(it.key())) << "missing " << it.key();
      EXPECT_EQ(ours[it.key()], it.value().get<Shape>()) << it.key();
    }
  }
}

TEST(ModelsEncoders, ClearErrorsForInputsTheyCannotTake) {
  auto vit = build_encoder(tiny("vit3d"));
  EXPECT_THROW_MSG(vit->forward(torch::zeros({1, 1, 5, 8, 8})),
                   "vit3d cannot take input size [5, 8, 8] (D, H, W): every size must be a multiple of [2, 4, 4] "
                   "(the total stride); pad or crop to e.g. [6, 8, 8]");
  auto res = build_encoder(tiny("resnet3d"));
  EXPECT_THROW_MSG(res->forward(torch::zeros({1, 2, 8, 8, 8})),
                   "resnet3d expects input [B, 1, D, H, W] (3D, model.in_channels = 1), got [1, 2, 8, 8, 8]");
  EXPECT_THROW_MSG(res->forward(torch::zeros({1, 1, 8, 8})), "got [1, 1, 8, 8]");
}

TEST(ModelsEncoders, RegistryRejectsUnknownTypesAndBadConfigs) {
  // An unknown model.type never reaches the registry: the config reader rejects it (ConfigTyped.*).
  auto c = tiny("resnet3d");
  EXPECT_EQ(encoder_types(), (std::vector<std::string>{"resnet3d", "resunet", "unet", "vit3d", "swin3d"}));
  c = tiny("resunet");
  c.unet.strides = {"1", "2", "2"};
  EXPECT_THROW_MSG(build_encoder(c), "model.strides has 3 entries but model.stages is 2");
  c = tiny("resunet");
  c.unet.strides = {"1", "1x2"};
  EXPECT_THROW_MSG(build_encoder(c), "model.strides[1]: '1x2' has 2 axes but model.spatial_dims is 3");
  c = tiny("vit3d");
  c.vit3d.num_heads = 5;
  EXPECT_THROW_MSG(build_encoder(c), "model.num_heads (5) must divide model.hidden_size (12)");
  c = tiny("resnet3d");
  c.resnet3d.depth = 20;
  EXPECT_THROW_MSG(build_encoder(c), "model.depth is 20; resnet3d supports 10, 18, 34, 50, 101, 152");
}

}  // namespace
}  // namespace gtgm::models
