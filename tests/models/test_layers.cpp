// Layers and blocks: shapes, PyTorch-equivalent values, FLOP counts by hand, errors.
#include <torch/torch.h>

#include "gtgm/core/strings.h"
#include "gtgm/models/blocks.h"
#include "gtgm/models/flops.h"
#include "gtgm/models/layers.h"
#include "test_util.h"

namespace gtgm::models {
namespace {

TEST(ModelsLayers, ConvShapesTwoAndThreeDims) {
  torch::manual_seed(0);
  struct Case {
    int dims;
    Shape in, kernel, stride, expect;
    bool transposed;
  };
  const std::vector<Case> cases = {
      {3, {2, 3, 8, 8, 8}, {3}, {1}, {2, 5, 8, 8, 8}, false},
      {3, {2, 3, 8, 9, 7}, {3}, {2}, {2, 5, 4, 5, 4}, false},                // ceil(n / 2)
      {3, {1, 3, 5, 16, 16}, {1, 3, 3}, {1, 2, 2}, {1, 5, 5, 8, 8}, false},  // anisotropic
      {2, {2, 3, 9, 6}, {3}, {2}, {2, 5, 5, 3}, false},
      {3, {1, 3, 4, 4, 4}, {1, 2, 2}, {1, 2, 2}, {1, 5, 4, 8, 8}, true},
      {2, {1, 3, 4, 5}, {2}, {2}, {1, 5, 8, 10}, true},
  };
  for (const auto& c : cases) {
    Conv conv(ConvOptions(c.dims, 3, 5, c.kernel).stride(c.stride).transposed(c.transposed));
    const auto y = conv->forward(torch::randn(c.in));
    EXPECT_EQ(Shape(y.sizes().begin(), y.sizes().end()), c.expect) << core::shape_str(c.in);
  }
}

TEST(ModelsLayers, ConvMatchesTorchConv3d) {
  torch::manual_seed(1);
  Conv conv(ConvOptions(3, 2, 4, {3, 1, 3}).stride({1, 2, 2}).bias(true));
  torch::nn::Conv3d ref(torch::nn::Conv3dOptions(2, 4, {3, 1, 3}).stride({1, 2, 2}).padding({1, 0, 1}));
  {
    torch::NoGradGuard ng;
    ref->weight.copy_(conv->weight);
    conv->bias.normal_();
    ref->bias.copy_(conv->bias);
  }
  const auto x = torch::randn({2, 2, 5, 6, 7});
  EXPECT_TRUE(torch::allclose(conv->forward(x), ref->forward(x), 1e-5, 1e-6));
}

// Without autograd on the CPU, a transposed conv whose kernel equals its stride runs as a 1x1 conv +
// pixel shuffle (layers.cpp); it must equal torch's conv_transpose to float rounding for every
// kernel shape, with and without bias, and with autograd on it must be torch's own op (exactly).
TEST(ModelsLayers, TransposedConvWithKernelEqualToStrideMatchesTorchWithoutGrad) {
  struct Case {
    int dims;
    Shape in, kernel, stride;
    bool bias;
  };
  const std::vector<Case> cases = {
      {3, {2, 3, 4, 5, 6}, {2, 2, 2}, {2, 2, 2}, true}, {3, {1, 3, 3, 4, 2}, {1, 2, 2}, {1, 2, 2}, false},
      {3, {2, 3, 2, 3, 3}, {3, 1, 2}, {3, 1, 2}, true}, {2, {2, 3, 5, 4}, {2}, {2}, true},
      {3, {1, 3, 4, 4, 4}, {3, 3, 3}, {2, 2, 2}, true},  // kernel != stride: torch's op
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(core::shape_str(c.in) + " kernel " + core::shape_str(c.kernel));
    torch::manual_seed(5);
    Conv conv(ConvOptions(c.dims, 3, 4, c.kernel).stride(c.stride).transposed(true).bias(c.bias));
    if (c.bias) {
      torch::NoGradGuard ng;
      conv->bias.normal_();
    }
    const auto x = torch::randn(c.in);
    auto reference = [&] {
      const torch::Tensor b = c.bias ? conv->bias : torch::Tensor();
      return c.dims == 3 ? torch::conv_transpose3d(x, conv->weight, b, c.stride)
                         : torch::conv_transpose2d(x, conv->weight, b, c.stride);
    };
    const torch::Tensor with_grad = conv->forward(x);
    EXPECT_TRUE(torch::equal(with_grad, reference()));
    EXPECT_TRUE(with_grad.requires_grad());
    torch::NoGradGuard ng;
    const torch::Tensor expected = reference();
    const torch::Tensor got = conv->forward(x);
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_TRUE(got.is_contiguous());
    EXPECT_TRUE(torch::allclose(got, expected, 1e-5, 1e-5)) << (got - expected).abs().max().item<double>();
    c10::InferenceMode im;
    EXPECT_TRUE(torch::allclose(conv->forward(x), expected, 1e-5, 1e-5));
  }
}

TEST(ModelsLayers, NormMatchesTorchModules) {
  torch::manual_seed(2);
  const auto x = torch::randn({3, 4, 3, 5, 2});
  Norm bn(NormKind::Batch, 4);
  torch::nn::BatchNorm3d ref(4);
  bn->train();
  ref->train();
  EXPECT_TRUE(torch::allclose(bn->forward(x), ref->forward(x), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(bn->running_mean, ref->running_mean, 1e-6));
  EXPECT_TRUE(torch::allclose(bn->running_var, ref->running_var, 1e-6));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  bn->eval();
  ref->eval();
  EXPECT_TRUE(torch::allclose(bn->forward(x), ref->forward(x), 1e-5, 1e-6));

  Norm in(NormKind::Instance, 4);
  torch::nn::InstanceNorm3d iref(torch::nn::InstanceNorm3dOptions(4).affine(true));
  EXPECT_TRUE(torch::allclose(in->forward(x), iref->forward(x), 1e-5, 1e-6));

  Norm gn(NormKind::Group, 4, 2);
  torch::nn::GroupNorm gref(2, 4);
  EXPECT_TRUE(torch::allclose(gn->forward(x), gref->forward(x), 1e-5, 1e-6));
  EXPECT_EQ(gn->named_buffers().size(), 0u);
  EXPECT_THROW_MSG(Norm(NormKind::Group, 6, 4), "4 groups do not divide 6 channels");
}

TEST(ModelsLayers, LinearAndConvCheckInputShapes) {
  Conv conv(ConvOptions(3, 2, 4, {3}));
  EXPECT_THROW_MSG(conv->forward(torch::zeros({1, 3, 4, 4, 4})),
                   "Conv expects input [B, 2, D, H, W] (3D), got [1, 3, 4, 4, 4]");
  EXPECT_THROW_MSG(conv->forward(torch::zeros({1, 2, 4, 4})), "got [1, 2, 4, 4]");
  Linear lin(5, 3);
  EXPECT_THROW_MSG(lin->forward(torch::zeros({2, 4})), "Linear expects [..., 5], got [2, 4]");
  EXPECT_THROW_MSG(parse_norm("layer"), "unknown norm 'layer'; valid: batch, instance, group, none");
  EXPECT_THROW_MSG(parse_act("swish"), "unknown activation 'swish'");
}

TEST(ModelsLayers, BlocksShapesAndShortcuts) {
  torch::manual_seed(3);
  const BlockSpec spec{3, NormKind::Instance, 8, ActKind::LeakyReLU};
  ResidualBlock same(spec, 4, 4, Shape{3}, Shape{1});
  EXPECT_EQ(same->named_children().size(), 4u);  // conv1, norm1, conv2, norm2: identity shortcut
  ResidualBlock down(spec, 4, 6, Shape{1, 3, 3}, Shape{1, 2, 2});
  const auto y = down->forward(torch::randn({2, 4, 3, 8, 7}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 6, 3, 4, 4}));
  Bottleneck b(BlockSpec{3, NormKind::Batch, 8, ActKind::ReLU}, 8, 2, Shape{2});
  EXPECT_EQ(b->forward(torch::randn({2, 8, 4, 4, 4})).sizes(), (std::vector<int64_t>{2, 8, 2, 2, 2}));
  Upsample up(3, 6, 3, Shape{1, 2, 2}, true);
  EXPECT_EQ(up->forward(torch::randn({1, 6, 3, 4, 4})).sizes(), (std::vector<int64_t>{1, 3, 3, 8, 8}));
  EXPECT_THROW_MSG(up->forward(torch::randn({1, 6, 3, 4, 4}), Shape{3, 8, 9}),
                   "gives [3, 8, 8], but the skip connection is [3, 8, 9]");
  Upsample interp(2, 6, 3, Shape{2}, false);
  EXPECT_EQ(interp->forward(torch::randn({1, 6, 5, 4})).sizes(), (std::vector<int64_t>{1, 3, 10, 8}));
}

TEST(ModelsLayers, FlopCountMatchesHandComputation) {
  // conv 3^3, 2 -> 4 channels on [1, 2, 4, 4, 4] (stride 1, same padding): output 4*64 elements,
  // each 2*27 MACs -> 256 * 54 = 13824 MACs. Transposed conv 4 -> 2, kernel = stride = 2 on the
  // same 4^3 grid: 4*64 input elements x 2 out channels x 8 -> 4096 MACs. Linear 256 -> 10 on
  // batch 1: 2560 MACs. FLOPs = 2 x MACs.
  Conv conv(ConvOptions(3, 2, 4, {3}));
  Conv tconv(ConvOptions(3, 4, 2, {2}).stride({2}).transposed(true));
  Linear lin(256, 10);
  const auto c = count_flops([&] {
    auto y = conv->forward(torch::zeros({1, 2, 4, 4, 4}));
    tconv->forward(y);
    lin->forward(y.flatten(1));
  });
  EXPECT_EQ(c.by_kind.at("conv"), 2 * 13824);
  EXPECT_EQ(c.by_kind.at("conv_transpose"), 2 * 4096);
  EXPECT_EQ(c.by_kind.at("linear"), 2 * 2560);
  EXPECT_EQ(c.total, 2 * (13824 + 4096 + 2560));
  // Outside a count nothing accumulates, and nested counts go to the innermost.
  conv->forward(torch::zeros({1, 2, 4, 4, 4}));
  const auto outer = count_flops([&] {
    const auto inner = count_flops([&] { lin->forward(torch::zeros({2, 256})); });
    EXPECT_EQ(inner.total, 2 * 2 * 2560);
    conv->forward(torch::zeros({1, 2, 4, 4, 4}));
  });
  EXPECT_EQ(outer.total, 2 * 13824);
}

}  // namespace
}  // namespace gtgm::models
