// The reference's ResUNet decoder (finetune/resunet.py) as `model.decoder: resunet`: parity with a
// plain-PyTorch port of the reference module (scripts/reference/resunet_reference.py printed the
// golden file tests/data/models/resunet_tiny.pt), its center_crop_padding on a table of shape
// pairs, output shapes over encoders and crops, gradients, and errors for encoders it cannot serve.
#include <torch/torch.h>

#include <fstream>
#include <iterator>
#include <map>

#include "gtgm/models/registry.h"
#include "test_util.h"

namespace gtgm::models {
namespace {

config::ModelConfig resunet_config(int depth, int base, int in_channels, int classes) {
  config::ModelConfig c;
  c.type = config::EncoderType::ResNet3d;
  c.resnet3d.depth = depth;
  c.encoder.base_channels = base;
  c.encoder.in_channels = in_channels;
  c.encoder.embed_dim = 0;
  c.decoder = config::DecoderType::ResUNet;
  c.num_classes = classes;
  return c;
}

TEST(ResUNetDecoder, TinyResNet50MatchesReferenceModule) {
  const auto g = test::load_model_golden("resunet_tiny.pt");
  auto model = build_segmentation_model(resunet_config(50, 2, 2, 3));
  {
    torch::NoGradGuard ng;
    size_t used = 0;
    for (auto& p : model->named_parameters()) {
      const auto it = g.find("state." + p.key());
      ASSERT_NE(it, g.end()) << "golden lacks " << p.key();
      ASSERT_EQ(p.value().sizes(), it->second.sizes()) << p.key();
      p.value().copy_(it->second);
      ++used;
    }
    for (auto& b : model->named_buffers()) {
      const auto it = g.find("state." + b.key());
      ASSERT_NE(it, g.end()) << "golden lacks " << b.key();
      b.value().copy_(it->second);
      ++used;
    }
    size_t state_keys = 0;
    for (const auto& kv : g) state_keys += kv.first.rfind("state.", 0) == 0 ? 1 : 0;
    EXPECT_EQ(used, state_keys) << "the reference module has keys gtgm's does not";
  }
  model->eval();
  torch::NoGradGuard ng;
  const auto logits = model->forward(g.at("input"));  // [1, 3, 8, 32, 64]
  ASSERT_EQ(logits.sizes(), g.at("logits").sizes());
  const double diff = (logits - g.at("logits")).abs().max().item<double>();
  EXPECT_LT(diff, 1e-5) << "max |gtgm - reference| over logits of magnitude up to "
                        << g.at("logits").abs().max().item<double>();
}

TEST(ResUNetDecoder, CenterCropPaddingMatchesReferenceTable) {
  const auto g = test::load_model_golden("resunet_tiny.pt");
  // 0: equal sizes; 1: D larger, H smaller, W larger (pad branch, negative amounts crop); 2: all larger (crop).
  for (int i = 0; i < 3; ++i) {
    const std::string k = "ccp" + std::to_string(i);
    const auto out = center_crop_pad_add(g.at(k + "_x"), g.at(k + "_y"));
    ASSERT_EQ(out.sizes(), g.at(k + "_out").sizes()) << i;
    EXPECT_TRUE(torch::allclose(out, g.at(k + "_out"), 0, 1e-6)) << i;
  }
  EXPECT_THROW_MSG(center_crop_pad_add(torch::zeros({1, 2, 3, 3, 3}), torch::zeros({1, 3, 3, 3, 3})),
                   "same B, C and rank");
}

struct ShapeCase {
  int depth;
  int base;
  int dims;
  Shape input;
  std::vector<int64_t> channels;  // decoder output channels, highest resolution first
  std::vector<Shape> sizes;       // their spatial sizes
};

TEST(ResUNetDecoder, OutputShapesOverEncodersAndCrops) {
  const std::vector<ShapeCase> cases = {
      // ResNet-50 widths 4*base..32*base; stride 1x4x4, 2x8x8, 4x16x16 (paper stem, pool 1x2x2).
      {50, 2, 3, {1, 1, 8, 64, 64}, {2, 8, 16, 32}, {{8, 64, 64}, {8, 16, 16}, {4, 8, 8}, {2, 4, 4}}},
      {18, 4, 3, {2, 1, 16, 32, 64}, {4, 4, 8, 16}, {{16, 32, 64}, {16, 8, 16}, {8, 4, 8}, {4, 2, 4}}},
      {34, 2, 3, {1, 1, 8, 32, 32}, {2, 2, 4, 8}, {{8, 32, 32}, {8, 8, 8}, {4, 4, 4}, {2, 2, 2}}},
      {10, 2, 3, {1, 1, 16, 96, 64}, {2, 2, 4, 8}, {{16, 96, 64}, {16, 24, 16}, {8, 12, 8}, {4, 6, 4}}},
      // 2D slices: stem 7x7 stride 2, pool stride 2 (layer strides 4, 8, 16, 32).
      {18, 2, 2, {2, 1, 64, 32}, {2, 2, 4, 8}, {{64, 32}, {16, 8}, {8, 4}, {4, 2}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("depth " + std::to_string(c.depth) + " dims " + std::to_string(c.dims));
    auto cfg = resunet_config(c.depth, c.base, 1, 3);
    cfg.encoder.spatial_dims = c.dims;
    cfg.deep_supervision = true;
    if (c.dims == 2) {
      cfg.resnet3d.stem_kernel = {7, 7};
      cfg.resnet3d.stem_stride = {2, 2};
      cfg.resnet3d.stem_pool_stride = {2, 2};
    }
    auto model = build_segmentation_model(cfg);
    EXPECT_EQ(model->decoder()->output_channels(), c.channels);
    model->eval();
    torch::NoGradGuard ng;
    const auto x = torch::randn(c.input);
    const auto enc = model->encoder()->forward(x);
    const auto maps = model->decoder()->forward(x, enc);
    ASSERT_EQ(maps.size(), c.sizes.size());
    for (size_t i = 0; i < maps.size(); ++i) {
      EXPECT_EQ(maps[i].size(1), c.channels[i]) << i;
      EXPECT_EQ(Shape(maps[i].sizes().begin() + 2, maps[i].sizes().end()), c.sizes[i]) << i;
    }
    Shape want = c.input;
    want[1] = 3;
    const auto logits = model->forward(x);
    EXPECT_EQ(Shape(logits.sizes().begin(), logits.sizes().end()), want);
  }
}

TEST(ResUNetDecoder, PaperWidthsForResNet50AndResNet18) {
  // Full-width ResNet-50: upconv4 2048 -> 1024 ... upconv1 256 -> 64 with a 3x7x7 kernel (resunet.py:51-62).
  auto cfg = resunet_config(50, 64, 1, 2);
  const auto encoder = build_encoder(cfg);
  const auto decoder = build_decoder(cfg, *encoder);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : decoder->named_parameters()) shapes[p.key()] = p.value().sizes().vec();
  EXPECT_EQ(shapes.at("upconv4.weight"), (std::vector<int64_t>{2048, 1024, 2, 2, 2}));
  EXPECT_EQ(shapes.at("upconv3.weight"), (std::vector<int64_t>{1024, 512, 2, 2, 2}));
  EXPECT_EQ(shapes.at("upconv2.weight"), (std::vector<int64_t>{512, 256, 2, 2, 2}));
  EXPECT_EQ(shapes.at("upconv1.weight"), (std::vector<int64_t>{256, 64, 3, 7, 7}));
  EXPECT_EQ(shapes.at("decoder4.0.weight"), (std::vector<int64_t>{1024, 1024, 3, 3, 3}));
  EXPECT_EQ(shapes.at("decoder4.2.bias"), (std::vector<int64_t>{1024}));
  EXPECT_EQ(shapes.at("decoder1.2.weight"), (std::vector<int64_t>{64, 64, 3, 3, 3}));
  EXPECT_EQ(shapes.size(), 4u * 2 + 4u * 4);  // upconvK weight+bias, decoderK.{0,2}.{weight,bias}
  // scripts/reference/resunet_reference.py's ResUNet(base=64): 98,973,120 parameters outside encoder* and output.
  EXPECT_EQ(count_parameters(*decoder), 98973120);
  // ResNet-18: basic blocks, so the decoder follows the encoder's widths 64, 64, 128, 256, 512.
  auto c18 = resunet_config(18, 64, 1, 2);
  const auto e18 = build_encoder(c18);
  const auto d18 = build_decoder(c18, *e18);
  EXPECT_EQ(d18->output_channels(), (std::vector<int64_t>{64, 64, 128, 256}));
}

TEST(ResUNetDecoder, GradientsReachEncoderAndDecoder) {
  torch::manual_seed(3);
  auto model = build_segmentation_model(resunet_config(18, 4, 1, 3));
  model->train();
  const auto x = torch::randn({2, 1, 16, 64, 64});
  const auto logits = model->forward(x);
  torch::nn::functional::cross_entropy(logits, torch::randint(0, 3, {2, 16, 64, 64})).backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(ResUNetDecoder, CropsNotAMultipleOfTheStrideArePaddedAndCroppedBack) {
  auto model = build_segmentation_model(resunet_config(10, 2, 1, 2));
  model->eval();
  torch::NoGradGuard ng;
  const auto y = model->forward(torch::randn({1, 1, 6, 40, 36}));  // stride 8x32x32
  EXPECT_EQ(y.sizes(), (torch::IntArrayRef{1, 2, 6, 40, 36}));
}

TEST(ResUNetDecoder, EncodersItCannotServeAreConfigErrors) {
  auto cfg = resunet_config(18, 2, 1, 2);
  cfg.type = config::EncoderType::ViT3d;
  EXPECT_THROW_MSG(build_segmentation_model(cfg), "model.decoder: resunet needs model.type: resnet3d");
  EXPECT_THROW_MSG(build_segmentation_model(cfg), "got model.type: vit3d");
  cfg.type = config::EncoderType::UNet;
  EXPECT_THROW_MSG(build_segmentation_model(cfg), "got model.type: unet");
  auto c2 = resunet_config(18, 2, 1, 2);
  c2.decoder_channels = {4, 4, 4, 4};
  EXPECT_THROW_MSG(build_segmentation_model(c2), "model.decoder_channels [4, 4, 4, 4] is for decoder: unet");
}

}  // namespace
}  // namespace gtgm::models
