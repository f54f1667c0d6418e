// Numerical parity with independent plain-PyTorch models (scripts/reference/models_reference.py):
// a tiny bottleneck 3D ResNet in the reference code's layout (its state dict loads by key), a tiny
// anisotropic-patch ViT with interpolated position embeddings, and the sin-cos embedding.
#include <torch/torch.h>

#include <fstream>
#include <iterator>
#include <map>

#include "gtgm/models/resnet3d.h"
#include "gtgm/models/vit3d.h"
#include "test_util.h"

namespace gtgm::models {
namespace {

/// Copies "state.<key>" tensors into every parameter and buffer of `m`; fails on a missing key.
void load_state(torch::nn::Module& m, const std::map<std::string, torch::Tensor>& g) {
  torch::NoGradGuard ng;
  size_t used = 0;
  for (auto& p : m.named_parameters()) {
    const auto it = g.find("state." + p.key());
    ASSERT_NE(it, g.end()) << "golden lacks " << p.key();
    ASSERT_EQ(p.value().sizes(), it->second.sizes()) << p.key();
    p.value().copy_(it->second);
    ++used;
  }
  for (auto& b : m.named_buffers()) {
    const auto it = g.find("state." + b.key());
    ASSERT_NE(it, g.end()) << "golden lacks " << b.key();
    b.value().copy_(it->second);
    ++used;
  }
  size_t state_keys = 0;
  for (const auto& kv : g) state_keys += kv.first.rfind("state.", 0) == 0 ? 1 : 0;
  EXPECT_EQ(used, state_keys) << "golden has keys the module does not";
}

TEST(ModelsParity, ResNet50LayoutMatchesPythonReference) {
  const auto g = test::load_model_golden("resnet3d_tiny.pt");
  config::EncoderConfig shared;
  shared.in_channels = 2;
  shared.base_channels = 1;
  shared.embed_dim = 0;
  ResNet3d net(shared, config::ResNet3dConfig{});  // depth 50, the paper stem
  load_state(*net, g);
  net->eval();
  torch::NoGradGuard ng;
  const auto out = net->forward(g.at("input"));
  EXPECT_TRUE(torch::allclose(out.pooled, g.at("pooled"), 1e-4, 1e-5))
      << (out.pooled - g.at("pooled")).abs().max().item<double>();
  ASSERT_EQ(out.features.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const auto& want = g.at("feature" + std::to_string(i));
    ASSERT_EQ(out.features[i].sizes(), want.sizes()) << i;
    EXPECT_TRUE(torch::allclose(out.features[i], want, 1e-4, 1e-5)) << i;
  }
}

TEST(ModelsParity, ViTWithInterpolatedPositionsMatchesPythonReference) {
  const auto g = test::load_model_golden("vit_tiny.pt");
  config::EncoderConfig shared;
  shared.embed_dim = 0;
  config::ViT3dConfig o;
  o.patch_size = {2, 4, 4};
  o.input_size = {4, 8, 8};
  o.hidden_size = 12;
  o.num_layers = 2;
  o.num_heads = 3;
  o.mlp_dim = 20;
  ViT3d vit(shared, o);
  load_state(*vit, g);
  vit->eval();
  torch::NoGradGuard ng;
  const auto out = vit->forward(g.at("input"));  // [2, 1, 6, 12, 8]: grid 3x3x2 vs made for 2x2x2
  ASSERT_EQ(out.features.size(), 2u);
  EXPECT_EQ(vit->tap_layers(), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(torch::allclose(out.features[0], g.at("tap1"), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(out.features[1], g.at("tap2"), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(out.pooled, g.at("pooled"), 1e-4, 1e-5));
}

TEST(ModelsParity, SinCosEmbeddingMatchesPythonReference) {
  const auto g = test::load_model_golden("sincos_reference.pt");
  const auto e = sincos_position_embedding({2, 3, 4}, 12);
  ASSERT_EQ(e.sizes(), g.at("embedding").sizes());
  EXPECT_TRUE(torch::allclose(e, g.at("embedding"), 0, 1e-6));
  EXPECT_THROW_MSG(sincos_position_embedding({2, 3, 4}, 8), "needs hidden size 8 divisible by 6");
}

}  // namespace
}  // namespace gtgm::models
