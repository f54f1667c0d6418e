// Sliding-window inference: window placement, gaussian normalisation, padding, batching, TTA.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <limits>

#include "gtgm/infer/sliding_window.h"
#include "test_util.h"

namespace gtgm {
namespace {

infer::SlidingWindowOptions opts(std::array<int64_t, 3> patch, int64_t batch = 2) {
  infer::SlidingWindowOptions o;
  o.patch_size = patch;
  o.batch_size = batch;
  return o;
}

// Pointwise predictor: commutes with any blending, so a misplaced window shows up as an error.
infer::ForwardFn affine(double a, double b) {
  return [a, b](const torch::Tensor& x) { return torch::cat({x * a + b, -x}, 1); };
}

torch::Tensor random_image(std::vector<int64_t> shape, int64_t seed) {
  torch::manual_seed(seed);
  return torch::randn(shape);
}

TEST(EvalSlidingWindow, WindowStartsTable) {
  struct Case {
    int64_t size, patch;
    double overlap;
    std::vector<int64_t> starts;
  };
  const std::vector<Case> cases = {
      {4, 4, 0.5, {0}},       {10, 4, 0.5, {0, 2, 4, 6}},         {11, 4, 0.5, {0, 2, 4, 5, 7}}, {5, 4, 0.0, {0, 1}},
      {9, 3, 0.0, {0, 3, 6}}, {7, 1, 0.5, {0, 1, 2, 3, 4, 5, 6}}, {20, 8, 0.25, {0, 6, 12}},
  };
  for (const auto& c : cases)
    EXPECT_EQ(infer::window_starts(c.size, c.patch, c.overlap), c.starts)
        << c.size << " " << c.patch << " " << c.overlap;
  EXPECT_THROW_MSG(infer::window_starts(3, 4, 0.5), "axis of 3 voxels is shorter than the patch (4)");
}

TEST(EvalSlidingWindow, GaussianProfile) {
  torch::Tensor g = infer::importance_profile(8, config::Blend::Gaussian, 0.125);
  ASSERT_EQ(g.size(0), 8);
  EXPECT_DOUBLE_EQ(g.max().item<double>(), 1.0);
  EXPECT_TRUE(torch::allclose(g, g.flip(0)));
  // sigma = 1 voxel, centre 3.5: g(0) / g(3) = exp(-(3.5^2 - 0.5^2) / 2).
  EXPECT_NEAR(g[0].item<double>() / g[3].item<double>(), std::exp(-(3.5 * 3.5 - 0.25) / 2.0), 1e-12);
  EXPECT_TRUE(
      torch::equal(infer::importance_profile(5, config::Blend::Constant, 0.125), torch::ones({5}, torch::kFloat64)));
}

TEST(EvalSlidingWindow, ConstantPredictorGivesConstantEverywhere) {
  // Normalisation by the summed gaussian weights must be exact at borders and overlaps, for
  // every geometry: fits, overlaps, anisotropic patch, smaller than the patch.
  const std::vector<std::pair<std::vector<int64_t>, std::array<int64_t, 3>>> cases = {
      {{1, 8, 8, 8}, {8, 8, 8}}, {{1, 13, 9, 17}, {4, 6, 5}}, {{2, 3, 20, 7}, {2, 8, 8}}, {{1, 2, 3, 4}, {4, 4, 4}}};
  for (const auto& [shape, patch] : cases) {
    auto predictor = [](const torch::Tensor& x) {
      return torch::full({x.size(0), 3, x.size(2), x.size(3), x.size(4)}, 3.5);
    };
    torch::Tensor out = infer::sliding_window_inference(torch::zeros(shape), predictor, opts(patch));
    ASSERT_EQ(out.sizes(), torch::IntArrayRef({3, shape[1], shape[2], shape[3]}));
    EXPECT_LT((out - 3.5).abs().max().item<double>(), 1e-5)
        << "patch " << patch[0] << "," << patch[1] << "," << patch[2];
  }
}

TEST(EvalSlidingWindow, PointwisePredictorIsReproducedExactlyWhereverWindowsLand) {
  torch::Tensor img = random_image({1, 11, 14, 9}, 1);
  for (const config::Blend blend : {config::Blend::Gaussian, config::Blend::Constant}) {
    auto o = opts({5, 6, 4}, 3);
    o.blend = blend;
    torch::Tensor out = infer::sliding_window_inference(img, affine(2.0, 1.0), o);
    torch::Tensor want = torch::cat({img * 2.0 + 1.0, -img}, 0);
    EXPECT_LT((out - want).abs().max().item<double>(), 1e-5) << config::to_string(blend);
  }
}

TEST(EvalSlidingWindow, EqualsDirectInferenceWhenTheWindowCoversTheImage) {
  torch::manual_seed(3);
  torch::nn::Conv3d conv(torch::nn::Conv3dOptions(2, 3, 3).padding(1));
  infer::ForwardFn net = [&conv](const torch::Tensor& x) { return conv->forward(x); };
  torch::Tensor img = random_image({2, 6, 7, 5}, 4);
  torch::Tensor out = infer::sliding_window_inference(img, net, opts({6, 7, 5}));
  torch::NoGradGuard g;
  torch::Tensor direct = conv->forward(img.unsqueeze(0))[0];
  EXPECT_LT((out - direct).abs().max().item<double>(), 1e-5);
}

TEST(EvalSlidingWindow, BatchedEqualsUnbatched) {
  torch::manual_seed(5);
  torch::nn::Conv3d conv(torch::nn::Conv3dOptions(1, 2, 3).padding(1));
  int calls = 0;
  infer::ForwardFn net = [&](const torch::Tensor& x) {
    ++calls;
    return conv->forward(x);
  };
  torch::Tensor img = random_image({1, 9, 10, 11}, 6);
  torch::Tensor one = infer::sliding_window_inference(img, net, opts({4, 4, 4}, 1));
  const int unbatched_calls = calls;
  calls = 0;
  torch::Tensor many = infer::sliding_window_inference(img, net, opts({4, 4, 4}, 5));
  EXPECT_EQ(unbatched_calls, 4 * 4 * 5);  // starts per axis: 4, 4, 5
  EXPECT_EQ(calls, (80 + 4) / 5);
  EXPECT_LT((one - many).abs().max().item<double>(), 1e-6);
}

TEST(EvalSlidingWindow, ImageSmallerThanPatchIsPaddedAndCroppedBack) {
  torch::Tensor img = random_image({1, 3, 5, 2}, 7);
  torch::Tensor seen;
  auto o = opts({4, 5, 4});
  o.pad_value = -9.0;
  infer::ForwardFn record = [&seen](const torch::Tensor& x) {
    seen = x.clone();
    return x * 2.0 + 1.0;
  };
  torch::Tensor out = infer::sliding_window_inference(img, record, o);
  ASSERT_EQ(out.sizes(), torch::IntArrayRef({1, 3, 5, 2}));
  EXPECT_LT((out - (img * 2.0 + 1.0)).abs().max().item<double>(), 1e-5);
  // The predictor saw a 4x5x4 window with the image at offset (0, 0, 1) and padding elsewhere
  // (D: 1 missing -> 0 before, 1 after; W: 2 missing -> 1 before, 1 after).
  ASSERT_EQ(seen.sizes(), torch::IntArrayRef({1, 1, 4, 5, 4}));
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::equal(seen.index({0, 0, Slice(0, 3), Slice(), Slice(1, 3)}), img[0]));
  EXPECT_EQ(seen[0][0][3][0][0].item<float>(), -9.0f);
  EXPECT_EQ(seen[0][0][0][0][0].item<float>(), -9.0f);
}

TEST(EvalSlidingWindow, MirrorTtaAveragesFlips) {
  // A predictor that outputs its W coordinate is not flip-invariant; averaged over W flips every
  // voxel gets (pw - 1) / 2.
  infer::ForwardFn ramp = [](const torch::Tensor& x) {
    return torch::arange(x.size(4), torch::kFloat)
        .view({1, 1, 1, 1, -1})
        .expand({x.size(0), 1, x.size(2), x.size(3), x.size(4)})
        .clone();
  };
  auto o = opts({4, 4, 6});
  o.mirror_tta = true;
  o.mirror_axes = {2};
  torch::Tensor out = infer::sliding_window_inference(torch::zeros({1, 5, 5, 9}), ramp, o);
  EXPECT_LT((out - 2.5).abs().max().item<double>(), 1e-5);
  // All eight flips for a pointwise predictor change nothing.
  o.mirror_axes = {0, 1, 2};
  torch::Tensor img = random_image({1, 5, 6, 7}, 8);
  EXPECT_LT((infer::sliding_window_inference(img, affine(3.0, 0.0), o) - torch::cat({img * 3.0, -img}, 0))
                .abs()
                .max()
                .item<double>(),
            1e-5);
}

TEST(EvalSlidingWindow, HalfAccumulationAndArgmax) {
  torch::Tensor img = random_image({1, 6, 6, 6}, 9);
  auto o = opts({4, 4, 4});
  o.accumulate_dtype = torch::kHalf;
  torch::Tensor out = infer::sliding_window_inference(img, affine(1.0, 0.0), o);
  EXPECT_EQ(out.scalar_type(), torch::kHalf);
  EXPECT_LT((out.to(torch::kFloat) - torch::cat({img, -img}, 0)).abs().max().item<double>(), 2e-2);
  // Channel 0 is x, channel 1 is -x: the label is 1 exactly where x < 0.
  torch::Tensor labels = infer::sliding_window_segment(img, affine(1.0, 0.0), opts({4, 4, 4}));
  EXPECT_EQ(labels.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(labels, img[0].lt(0).to(torch::kUInt8)));
}

// argmax_labels against torch::argmax(0) (first maximum, NaN counts as the maximum) over layouts that
// take the one-pass path (contiguous, class-strided, expanded) and the slab path (float16, planes
// not contiguous), with ties, NaNs, K = 1 and K > 256 (int16 labels).
TEST(EvalSlidingWindow, ArgmaxLabelsEqualTorchArgmaxWithTiesNaNsAndEveryLayout) {
  using torch::indexing::Slice;
  struct Case {
    const char* layout;
    int64_t k, d, h, w, slab;
  };
  const std::vector<Case> cases = {{"contiguous", 3, 5, 7, 9, 8},      {"contiguous", 1, 4, 3, 5, 8},
                                   {"contiguous", 300, 3, 4, 5, 2},    {"every_other_class", 4, 6, 5, 7, 8},
                                   {"expanded", 3, 4, 6, 5, 8},        {"float16", 5, 7, 6, 5, 3},
                                   {"planes_permuted", 3, 6, 5, 4, 4}, {"contiguous", 2, 33, 40, 41, 8}};
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{} K={} {}x{}x{} slab {}", c.layout, c.k, c.d, c.h, c.w, c.slab));
    torch::manual_seed(c.k * 100 + c.d);
    const std::string layout = c.layout;
    // Integers in [0, 3): many ties; about 3% NaN, some voxels with several NaNs.
    torch::Tensor x =
        torch::randint(0, 3, {layout == "every_other_class" ? 2 * c.k : c.k, c.d, c.h, c.w}).to(torch::kFloat);
    x.masked_fill_(torch::rand_like(x).lt(0.03), std::numeric_limits<float>::quiet_NaN());
    if (layout == "every_other_class") x = x.index({Slice(0, torch::indexing::None, 2)});
    if (layout == "expanded") x = x.index({Slice(0, 1)}).expand({c.k, c.d, c.h, c.w});
    if (layout == "float16") x = x.to(torch::kHalf);
    if (layout == "planes_permuted") x = x.permute({0, 3, 2, 1}).contiguous().permute({0, 3, 2, 1});
    ASSERT_EQ(x.sizes(), torch::IntArrayRef({c.k, c.d, c.h, c.w}));
    torch::Tensor labels = infer::argmax_labels(x, c.slab);
    EXPECT_EQ(labels.scalar_type(), c.k <= 256 ? torch::kUInt8 : torch::kInt16);
    torch::Tensor expected = x.to(torch::kFloat).argmax(0);
    EXPECT_TRUE(torch::equal(labels.to(torch::kLong), expected))
        << labels.to(torch::kLong).ne(expected).sum().item<int64_t>() << " voxels differ";
  }
  // Several NaNs at one voxel: the first one wins; a NaN after a number wins over it.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  torch::Tensor x = torch::tensor({1.f, nan, 2.f, nan, nan, nan, 2.f, 3.f, 5.f, 1.f, 2.f, nan}).view({3, 1, 1, 4});
  EXPECT_TRUE(
      torch::equal(infer::argmax_labels(x).flatten().to(torch::kLong), torch::tensor({1, 0, 0, 0}, torch::kLong)));
  EXPECT_THROW_MSG(infer::argmax_labels(torch::zeros({0, 2, 2, 2})), "logits have no classes (shape [0, 2, 2, 2])");
}

TEST(EvalSlidingWindow, RejectsBadInput) {
  auto o = opts({4, 4, 4});
  EXPECT_THROW_MSG(infer::sliding_window_inference(torch::zeros({4, 4, 4}), affine(1, 0), o),
                   "expected a non-empty image [C, D, H, W], got shape [4, 4, 4]");
  infer::ForwardFn wrong = [](const torch::Tensor& x) { return x.sum(1); };
  EXPECT_THROW_MSG(infer::sliding_window_inference(torch::zeros({1, 4, 4, 4}), wrong, o),
                   "the predictor returned shape [1, 4, 4, 4] for a batch of windows of shape [1, 1, 4, 4, 4]");
  o.overlap = 1.0;
  EXPECT_THROW_MSG(infer::sliding_window_inference(torch::zeros({1, 4, 4, 4}), affine(1, 0), o),
                   "overlap must be in [0, 1), got 1");
  o = opts({4, 4, 4});
  o.mirror_axes = {3};
  EXPECT_THROW_MSG(infer::sliding_window_inference(torch::zeros({1, 4, 4, 4}), affine(1, 0), o),
                   "mirror axes are spatial axes 0 (D), 1 (H), 2 (W), got 3");
}

TEST(EvalSlidingWindow, OptionsFromConfig) {
  config::EvalConfig cfg;
  cfg.overlap = 0.25;
  cfg.mirror_tta = true;
  cfg.sw_batch_size = 4;
  cfg.accumulate_dtype = config::AccumulateDtype::Float16;
  auto o = infer::sliding_window_options(cfg, {2, 3, 4}, torch::kCPU);
  EXPECT_EQ(o.patch_size, (std::array<int64_t, 3>{2, 3, 4}));
  EXPECT_DOUBLE_EQ(o.overlap, 0.25);
  EXPECT_TRUE(o.mirror_tta);
  EXPECT_EQ(o.batch_size, 4);
  EXPECT_EQ(o.accumulate_dtype, torch::kHalf);
  EXPECT_DOUBLE_EQ(o.sigma_scale, 0.125);
}

TEST(EvalSlidingWindow, MatchesCpuWithDeviceAccumulation_CUDA) {
  GTGM_REQUIRE_CUDA();
  torch::manual_seed(12);
  torch::nn::Conv3d conv(torch::nn::Conv3dOptions(1, 3, 3).padding(1));
  torch::Tensor img = random_image({1, 19, 23, 17}, 13);
  auto o = opts({8, 8, 8}, 3);
  o.mirror_tta = true;
  torch::Tensor cpu = infer::sliding_window_inference(
      img, [&](const torch::Tensor& x) { return conv->forward(x); }, o);
  conv->to(torch::kCUDA);
  o.device = torch::Device(torch::kCUDA);
  torch::Tensor gpu = infer::sliding_window_inference(
      img, [&](const torch::Tensor& x) { return conv->forward(x); }, o);
  EXPECT_TRUE(gpu.is_cuda());
  EXPECT_LT((gpu.cpu() - cpu).abs().max().item<double>(), 1e-4);
  o.accumulate_dtype = torch::kHalf;
  torch::Tensor labels = infer::sliding_window_segment(
      img, [&](const torch::Tensor& x) { return conv->forward(x); }, o);
  EXPECT_FALSE(labels.is_cuda());
  EXPECT_GT(labels.eq(infer::argmax_labels(cpu)).to(torch::kFloat).mean().item<double>(), 0.99);
}

}  // namespace
}  // namespace gtgm
