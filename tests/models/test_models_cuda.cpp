// CUDA: forward/backward of small models on the GPU and agreement with the CPU (skipped without GPU).
#include <torch/torch.h>

#include <algorithm>
#include <sstream>

#include "gtgm/models/flops.h"
#include "gtgm/models/registry.h"
#include "test_util.h"

namespace gtgm::models {
namespace {

/// max |a - b| / max |b|.
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(1e-12, b.abs().max().item<double>());
}

config::ModelConfig small(const std::string& type) {
  config::ModelConfig c;
  c.type = *config::parse_enum<config::EncoderType>(type);
  c.encoder.base_channels = 4;
  c.encoder.embed_dim = 0;
  c.resnet3d.depth = 18;
  c.unet.stages = 3;
  c.unet.channels = {4, 8, 8};
  c.unet.strides = {"1", "1x2x2", "2"};
  c.encoder.norm = config::Norm::Instance;
  c.vit3d.patch_size = {4, 8, 8};
  c.vit3d.input_size = {8, 16, 16};
  c.vit3d.hidden_size = 24;
  c.vit3d.num_heads = 4;
  c.vit3d.mlp_dim = 48;
  c.vit3d.num_layers = 3;
  c.unetr_feature_size = 4;
  c.num_classes = 3;
  return c;
}

TEST(ModelsCuda, SegmentationForwardBackwardMatchesCpu_CUDA) {
  GTGM_REQUIRE_CUDA();
  for (const std::string type : {"resnet3d", "resunet", "vit3d"}) {
    SCOPED_TRACE(type);
    torch::manual_seed(0);
    auto cfg = small(type);
    auto cpu = build_segmentation_model(cfg);
    auto gpu = build_segmentation_model(cfg);
    std::stringstream weights;
    torch::save(cpu, weights);
    torch::load(gpu, weights);
    gpu->to(torch::kCUDA);
    const Shape in = type == "resnet3d" ? Shape{2, 1, 16, 32, 32} : Shape{2, 1, 8, 16, 16};
    const auto x = torch::randn(in);
    auto y_cpu = cpu->forward(x);
    auto y_gpu = gpu->forward(x.to(torch::kCUDA));
    EXPECT_EQ(y_gpu.device().type(), torch::kCUDA);
    // cuDNN may use TF32 convolutions on Ampere+ (10-bit mantissa): compare relative to the scale.
    EXPECT_LT(relative_error(y_gpu.cpu(), y_cpu), 2e-2);
    y_gpu.pow(2).mean().backward();
    for (const auto& p : gpu->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_TRUE(p.value().grad().is_cuda());
      EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    }
  }
}

TEST(ModelsCuda, ChannelsLast3dMatchesContiguous_CUDA) {
  GTGM_REQUIRE_CUDA();
  torch::manual_seed(2);
  auto model = build_segmentation_model(small("resunet"));
  model->to(torch::kCUDA);
  model->eval();
  const auto x = torch::randn({2, 1, 8, 16, 16}, torch::TensorOptions().device(torch::kCUDA));
  const auto ref = model->forward(x);
  to_channels_last(*model);
  const auto y = model->forward(to_channels_last(x));
  EXPECT_LT(relative_error(y, ref), 2e-2);
  model->train();
  // A training step in channels-last runs backward too.
  model->forward(to_channels_last(x)).pow(2).mean().backward();
  for (const auto& p : model->named_parameters()) ASSERT_TRUE(p.value().grad().defined()) << p.key();
}

TEST(ModelsCuda, PretrainingModelAndFlopsOnGpu_CUDA) {
  GTGM_REQUIRE_CUDA();
  torch::manual_seed(1);
  auto model = build_gtgm_model(small("resunet"));
  model->to(torch::kCUDA);
  const auto opts = torch::TensorOptions().device(torch::kCUDA);
  auto out = model->forward(torch::randn({2, 1, 8, 16, 16}, opts), torch::randn({2, 1, 8, 16, 16}, opts),
                            torch::randn({2, 768}, opts));
  (out.v1.sum() + out.t.sum() + out.e2.pow(2).sum()).backward();
  for (const auto& p : model->named_parameters()) ASSERT_TRUE(p.value().grad().defined()) << p.key();
  // FLOPs do not depend on the device.
  auto cpu = build_gtgm_model(small("resunet"));
  EXPECT_EQ(count_flops(*model, {2, 1, 8, 16, 16}).total, count_flops(*cpu, {2, 1, 8, 16, 16}).total);
}

}  // namespace
}  // namespace gtgm::models
