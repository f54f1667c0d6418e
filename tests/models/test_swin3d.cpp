// The swin3d encoder and the swin_unetr decoder: parity with a plain-PyTorch port of the reference's
// SwinUNETR and the MONAI blocks it imports (scripts/reference/swin_reference.py printed the golden file
// tests/data/models/swin_tiny.pt), shifted-window masks, shapes over a table, gradients, and errors.
#include <torch/torch.h>

#include <fstream>
#include <iterator>
#include <map>

#include "gtgm/models/registry.h"
#include "test_util.h"

namespace gtgm::models {
namespace {

/// swin_reference.py's recipe(): sin(i * 0.6180339887 + seed) * scale in float64, as float32.
torch::Tensor recipe(int64_t n, double seed, double scale) {
  return ((torch::arange(n, torch::kFloat64) * 0.6180339887 + seed).sin() * scale).to(torch::kFloat32);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

config::ModelConfig swin_config(int in_channels, int classes, std::vector<int> depths, std::vector<int> window) {
  config::ModelConfig c;
  c.type = config::EncoderType::Swin3d;
  c.encoder.in_channels = in_channels;
  c.encoder.embed_dim = 2048;  // the reference's Linear(16 * feature_size, 2048)
  c.swin3d.feature_size = 12;
  c.swin3d.depths = std::move(depths);
  c.swin3d.window = std::move(window);
  c.num_classes = classes;
  return c;
}

/// Loads case `p` ("a_" / "b_") into `model`: values, recipes, and gtgm's instance-norm affines
/// (MONAI's InstanceNorm3d has none) left at their 1 / 0 init, which is the same function.
void load_case(SegmentationModelImpl& model, const std::map<std::string, torch::Tensor>& g, const std::string& p) {
  torch::NoGradGuard ng;
  size_t used = 0, affine = 0;
  for (auto& kv : model.named_parameters()) {
    const std::string& k = kv.key();
    auto& t = kv.value();
    if (const auto it = g.find(p + "state." + k); it != g.end()) {
      ASSERT_EQ(t.sizes(), it->second.sizes()) << k;
      t.copy_(it->second);
      ++used;
    } else if (const auto r = g.find(p + "recipe." + k); r != g.end()) {
      t.copy_(recipe(t.numel(), r->second[0].item<double>(), r->second[1].item<double>()).reshape(t.sizes()));
      ++used;
    } else {
      const bool norm = k.find("norm") != std::string::npos && k.find("swinViT") == std::string::npos;
      ASSERT_TRUE(norm) << "golden lacks " << k;
      EXPECT_TRUE(torch::equal(t, ends_with(k, "weight") ? torch::ones_like(t) : torch::zeros_like(t))) << k;
      ++affine;
    }
  }
  size_t golden = 0;
  for (const auto& kv : g) {
    if (kv.first.rfind(p + "state.", 0) == 0 || kv.first.rfind(p + "recipe.", 0) == 0) ++golden;
  }
  EXPECT_EQ(used, golden) << "the reference has tensors gtgm's model does not";
  EXPECT_GT(affine, 0u);
  size_t indices = 0;
  for (const auto& b : model.named_buffers()) {
    if (!ends_with(b.key(), "relative_position_index")) continue;
    const auto sub = b.value().slice(0, 0, c10::nullopt, 5).slice(1, 0, c10::nullopt, 5);
    EXPECT_TRUE(torch::equal(sub, g.at(p + "relative_position_index_sub"))) << b.key();
    ++indices;
  }
  EXPECT_GT(indices, 0u);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

void check_case(const std::string& p, config::ModelConfig cfg) {
  SCOPED_TRACE(p);
  const auto g = test::load_model_golden("swin_tiny.pt");
  auto model = build_segmentation_model(cfg);
  load_case(*model, g, p);
  model->eval();
  torch::NoGradGuard ng;
  const auto shape = g.at(p + "input_shape");
  std::vector<int64_t> dims(shape.data_ptr<int64_t>(), shape.data_ptr<int64_t>() + shape.numel());
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  const auto& rx = g.at(p + "input_recipe");
  const auto x = recipe(n, rx[0].item<double>(), rx[1].item<double>()).reshape(dims);

  const auto enc = model->encoder()->forward(x);
  ASSERT_EQ(enc.features.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    const auto sub = enc.features[static_cast<size_t>(i)]
                         .slice(2, 0, c10::nullopt, 2)
                         .slice(3, 0, c10::nullopt, 2)
                         .slice(4, 0, c10::nullopt, 2);
    const auto& want = g.at(p + "hidden" + std::to_string(i) + "_sub");
    ASSERT_EQ(sub.sizes(), want.sizes()) << i;
    EXPECT_LT(max_diff(sub, want), 1e-5) << "hidden state " << i;
  }
  EXPECT_LT(max_diff(enc.pooled, g.at(p + "pooled")), 1e-5) << "pretraining output (encoder10 -> mean -> linear)";
  const auto logits = model->forward(x);
  const auto sub = logits.slice(2, 0, c10::nullopt, 2).slice(3, 0, c10::nullopt, 4).slice(4, 0, c10::nullopt, 4);
  ASSERT_EQ(sub.sizes(), g.at(p + "logits_sub").sizes());
  EXPECT_LT(max_diff(sub, g.at(p + "logits_sub")), 1e-5)
      << "logits of magnitude up to " << g.at(p + "logits_sub").abs().max().item<double>();
  const double sum = logits.to(torch::kFloat64).sum().item<double>(), want = g.at(p + "logits_sum").item<double>();
  EXPECT_NEAR(sum, want, 1e-5 * static_cast<double>(logits.numel()));
}

TEST(Swin3dParity, ShrunkenAndPaddedWindowsMatchReferenceSwinUNETR) {
  // 32x64x32 crop, window 4x3x4: stage grids 16x32x16 .. 2x4x2 need padding to the window on H and a
  // shrunken window (and the [:n, :n] corner of the position index) on the small stages.
  check_case("a_", swin_config(1, 2, {2, 2, 2, 2}, {4, 3, 4}));
}

TEST(Swin3dParity, ReferenceWindow7AndDepths2422MatchReferenceSwinUNETR) {
  check_case("b_", swin_config(2, 3, {2, 4, 2, 2}, {7, 7, 7}));
}

TEST(Swin3dMask, ShiftedWindowMaskSeparatesWrappedRegions) {
  // 4x4x4 grid, window 2, shift 1: 8 windows of 8 tokens; the first window lies in one region, the
  // last mixes 8 regions (every token its own), so all its off-diagonal entries are -100.
  const auto m = shifted_window_mask({4, 4, 4}, {2, 2, 2}, {1, 1, 1}, torch::kCPU);
  ASSERT_EQ(m.sizes(), (torch::IntArrayRef{8, 8, 8}));
  EXPECT_TRUE(torch::equal(m[0], torch::zeros({8, 8})));
  EXPECT_TRUE(torch::equal(m[7], (torch::ones({8, 8}) - torch::eye(8)) * -100.0));
  // Window 1 (D 0-1, H 0-1, W 2-3): the W pair {2, 3} splits, so tokens differing in w are masked.
  EXPECT_EQ(m[1][0][1].item<float>(), -100.0f);
  EXPECT_EQ(m[1][0][2].item<float>(), 0.0f);
  // A zero shift on an axis makes a single region there (Python's slice(-0, None) is the whole axis).
  const auto one_axis = shifted_window_mask({2, 4, 2}, {2, 2, 2}, {0, 1, 0}, torch::kCPU);
  ASSERT_EQ(one_axis.sizes(), (torch::IntArrayRef{2, 8, 8}));
  EXPECT_TRUE(torch::equal(one_axis[0], torch::zeros({8, 8})));
  EXPECT_EQ(one_axis[1].eq(-100.0).sum().item<int64_t>(), 32);  // 2 regions of 4 tokens: 2 * 4 * 4 pairs
}

TEST(Swin3dMask, EffectiveWindowShrinksToSmallStages) {
  const auto [w, s] = effective_window({8, 5, 2}, {7, 7, 7}, {3, 3, 3});
  EXPECT_EQ(w, (Shape{7, 5, 2}));
  EXPECT_EQ(s, (Shape{3, 0, 0}));
}

struct SwinShapeCase {
  std::vector<int> patch;
  Shape input;
};

TEST(Swin3d, FeatureAndDecoderShapesOverCrops) {
  const std::vector<SwinShapeCase> cases = {
      {{2, 2, 2}, {1, 1, 32, 32, 32}}, {{2, 2, 2}, {2, 1, 32, 64, 96}}, {{1, 2, 2}, {1, 1, 16, 32, 64}}};
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.input));
    auto cfg = swin_config(1, 4, {1, 1, 1, 1}, {4, 4, 4});
    cfg.swin3d.patch_size = c.patch;
    cfg.encoder.embed_dim = 0;
    cfg.deep_supervision = true;
    auto model = build_segmentation_model(cfg);
    const auto& info = model->encoder()->feature_info();
    ASSERT_EQ(info.size(), 5u);
    EXPECT_EQ(model->encoder()->embed_dim(), 192);
    EXPECT_EQ(model->decoder()->output_channels(), (std::vector<int64_t>{12, 12, 24, 48, 96}));
    model->eval();
    torch::NoGradGuard ng;
    const auto x = torch::randn(c.input);
    const auto enc = model->encoder()->forward(x);
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(enc.features[i].size(1), 12 << i) << i;
      for (size_t a = 0; a < 3; ++a) {
        EXPECT_EQ(info[i].stride[a], c.patch[a] << i) << i;
        EXPECT_EQ(enc.features[i].size(static_cast<int64_t>(a) + 2), c.input[a + 2] / info[i].stride[a]) << i;
      }
    }
    EXPECT_EQ(enc.pooled.sizes(), (torch::IntArrayRef{c.input[0], 192}));
    const auto outs = model->forward_deep(x);
    ASSERT_EQ(outs.size(), 5u);
    EXPECT_EQ(outs[0].sizes(), (torch::IntArrayRef{c.input[0], 4, c.input[2], c.input[3], c.input[4]}));
    for (size_t j = 1; j < 5; ++j) {
      for (size_t a = 0; a < 3; ++a) {
        EXPECT_EQ(outs[j].size(static_cast<int64_t>(a) + 2), c.input[a + 2] / (c.patch[a] << (j - 1))) << j;
      }
    }
  }
}

TEST(Swin3d, TheUNetDecoderAlsoTakesItsFeatures) {
  auto cfg = swin_config(1, 3, {1, 1, 1, 1}, {4, 4, 4});
  cfg.encoder.embed_dim = 0;
  cfg.decoder = config::DecoderType::UNet;
  cfg.encoder.norm = config::Norm::Instance;
  auto model = build_segmentation_model(cfg);
  // Skips fs..16fs at strides 2..32, capped at max_channels 320, plus the final upsample to full size.
  EXPECT_EQ(model->decoder()->output_channels(), (std::vector<int64_t>{6, 12, 24, 48, 96}));
  model->eval();
  torch::NoGradGuard ng;
  EXPECT_EQ(model->forward(torch::randn({1, 1, 32, 32, 64})).sizes(), (torch::IntArrayRef{1, 3, 32, 32, 64}));
}

TEST(Swin3d, GradientsReachEveryParameterInPretrainingAndSegmentation) {
  auto cfg = swin_config(1, 2, {2, 1, 1, 1}, {4, 4, 4});
  cfg.encoder.embed_dim = 8;
  auto model = build_segmentation_model(cfg);
  model->train();
  // 32x64x64: encoder10 sees 1x2x2 voxels (instance norm over one voxel would have no weight gradient).
  const auto x = torch::randn({2, 1, 32, 64, 64});
  const auto logits = model->forward(x);
  const auto pooled = model->encoder()->forward(x).pooled;  // [2, 8]
  (torch::nn::functional::cross_entropy(logits, torch::randint(0, 2, {2, 32, 64, 64})) + pooled.pow(2).mean())
      .backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(Swin3d, CropsNotAMultipleOfPatchTimes16AreErrorsNamingTheKeys) {
  auto cfg = swin_config(1, 2, {1, 1, 1, 1}, {7, 7, 7});
  auto encoder = build_encoder(cfg);
  EXPECT_EQ(encoder->size_divisor(), (Shape{32, 32, 32}));
  EXPECT_THROW_MSG(encoder->forward(torch::zeros({1, 1, 16, 32, 32})),
                   "swin3d cannot take input size 16x32x32: every size must be a multiple of 32x32x32 "
                   "(model.swin_patch_size 2x2x2 x 2^4 stages");
  EXPECT_THROW_MSG(encoder->forward(torch::zeros({1, 1, 16, 32, 32})), "set data.crop_size");
  // The segmentation model pads such crops up to the multiple and crops the logits back.
  auto seg = build_segmentation_model(cfg);
  seg->eval();
  torch::NoGradGuard ng;
  EXPECT_EQ(seg->forward(torch::zeros({1, 1, 16, 32, 40})).sizes(), (torch::IntArrayRef{1, 2, 16, 32, 40}));
}

TEST(Swin3d, PaperConfigParameterCountsMatchTheReference) {
  // feature 48, depths 2, 4, 2, 2 (pretrain/utils/utils_builder.py:24). Counts printed by
  // scripts/reference/swin_reference.py's SwinUNETR((32, 160, 160), 1, 2, depths=(2, 4, 2, 2), feature_size=48):
  // swinViT 8,312,046; encoder10 31,850,496 (+ 3,072 for gtgm's affine instance norms: 2 x 768 x 2);
  // linear 1,574,912.
  config::ModelConfig cfg;
  cfg.type = config::EncoderType::Swin3d;
  auto encoder = build_encoder(cfg);
  int64_t vit = 0, e10 = 0, embed = 0;
  for (const auto& p : encoder->named_parameters()) {
    const std::string& k = p.key();
    (k.rfind("swinViT.", 0) == 0 ? vit : k.rfind("encoder10.", 0) == 0 ? e10 : embed) += p.value().numel();
  }
  EXPECT_EQ(vit, 8312046);
  EXPECT_EQ(e10, 31850496 + 3072);
  EXPECT_EQ(embed, 1574912);
  EXPECT_EQ(encoder->embed_dim(), 2048);
  // The reference's decoder (encoder1-4, decoder1-5): 22,274,112, + 6,240 gtgm instance-norm affines.
  EXPECT_EQ(count_parameters(*build_decoder(cfg, *encoder)), 22274112 + 6240);
}

TEST(Swin3d, InconsistentSettingsAreConfigErrors) {
  auto cfg = swin_config(1, 2, {1, 1, 1, 1}, {7, 7, 7});
  cfg.swin3d.feature_size = 16;
  EXPECT_THROW_MSG(build_encoder(cfg), "model.swin_feature_size must be divisible by 12");
  cfg = swin_config(1, 2, {1, 1, 1, 1}, {7, 7, 7});
  cfg.swin3d.heads = {5, 6, 12, 24};
  EXPECT_THROW_MSG(build_encoder(cfg), "model.swin_heads[0] = 5 must divide stage 0's 12 channels");
  cfg = swin_config(1, 2, {1, 1, 1, 1}, {7, 7, 7});
  cfg.encoder.spatial_dims = 2;
  cfg.swin3d.window = {7, 7, 7};
  EXPECT_THROW_MSG(build_encoder(cfg), "model.type: swin3d needs model.spatial_dims 3");
  cfg = swin_config(1, 2, {1, 1, 1, 1}, {7, 7, 7});
  cfg.decoder = config::DecoderType::UNETR;
  EXPECT_THROW_MSG(build_segmentation_model(cfg), "model.decoder: unetr needs model.type: vit3d");
  config::ModelConfig resnet;
  resnet.decoder = config::DecoderType::SwinUNETR;
  EXPECT_THROW_MSG(build_segmentation_model(resnet),
                   "model.decoder: swin_unetr needs model.type: swin3d (got resnet3d)");
}

}  // namespace
}  // namespace gtgm::models
