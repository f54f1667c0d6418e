// Crop samplers, crop copies and the batched augmentations.
#include <gtest/gtest.h>

#include <cmath>

#include "data_fixtures.h"
#include "gtgm/data/augment.h"
#include "gtgm/data/samplers.h"
#include "test_util.h"

namespace gtgm {
namespace {

using data::Index3;

TEST(Samplers, RandomCropsStayInsideOrAreCentred) {
  data::Rng rng(1);
  for (int i = 0; i < 200; ++i) {
    const auto s = data::random_crop_start({10, 40, 7}, {4, 16, 9}, rng);
    EXPECT_GE(s[0], 0);
    EXPECT_LE(s[0], 6);
    EXPECT_GE(s[1], 0);
    EXPECT_LE(s[1], 24);
    EXPECT_EQ(s[2], -1);  // 9 > 7: centred, one voxel of padding each side
  }
}

TEST(Samplers, ViewPairsOverlapAndShiftAnisotropically) {
  data::Rng rng(2);
  const Index3 shape{40, 400, 400}, size{18, 160, 160};  // an EM-like anisotropic crop
  int64_t max_dz = 0, max_dy = 0;
  for (int i = 0; i < 500; ++i) {
    const auto p = data::sample_view_pair(shape, size, 0.5, rng);
    for (int a = 0; a < 3; ++a) {
      EXPECT_GE(p.start2[a], 0);
      EXPECT_LE(p.start2[a] + size[a], shape[a]);
      EXPECT_LE(std::abs(p.start2[a] - p.start1[a]), size[a] / 2);  // >= 50% overlap per axis
      EXPECT_DOUBLE_EQ(p.centre[a], 0.5 * (p.start1[a] + p.start2[a]) + 0.5 * (size[a] - 1));
    }
    max_dz = std::max(max_dz, std::abs(p.start2[0] - p.start1[0]));
    max_dy = std::max(max_dy, std::abs(p.start2[1] - p.start1[1]));
  }
  EXPECT_LE(max_dz, 9);
  EXPECT_GT(max_dy, 40);  // in-plane shifts are scaled by the in-plane crop size
  const auto same = data::sample_view_pair(shape, size, 0.0, rng);
  EXPECT_EQ(same.start1, same.start2);
}

TEST(Samplers, ForegroundCropsContainTheLocation) {
  data::Rng rng(3);
  for (int i = 0; i < 300; ++i) {
    const Index3 loc{rng.randint(0, 19), rng.randint(0, 29), rng.randint(0, 4)};
    const auto s = data::crop_start_around({20, 30, 5}, {8, 8, 8}, loc, rng);
    for (int a = 0; a < 2; ++a) {
      EXPECT_LE(s[a], loc[a]);
      EXPECT_GT(s[a] + 8, loc[a]);
      EXPECT_GE(s[a], 0);
    }
    EXPECT_EQ(s[2], -1);  // 8 > 5: centred
  }
}

TEST(Samplers, CopyCropConvertsAndPads) {
  auto v = test::index_volume(2, 3, 4, 5).data;  // value = 1e6 c + 1e4 d + 100 h + w
  auto dst = torch::empty({2, 2, 3, 4});
  data::copy_crop(v, {2, -1, 3}, {2, 3, 4}, -7.0, dst);
  // d=2 in range, d=3 outside; h=-1 outside; w = 3, 4 inside, 5, 6 outside.
  EXPECT_EQ(dst[1][0][1][0].item<float>(), 1e6f + 20000 + 0 + 3);
  EXPECT_EQ(dst[0][0][2][1].item<float>(), 20000 + 100 + 4);
  EXPECT_EQ(dst[0][0][1][2].item<float>(), -7.0f);
  EXPECT_EQ(dst[0][0][0][0].item<float>(), -7.0f);
  EXPECT_EQ(dst[0][1][1][0].item<float>(), -7.0f);
  // One channel of a half-precision source into int64.
  auto half = (torch::arange(2 * 2 * 2 * 2) % 7).view({2, 2, 2, 2}).to(torch::kHalf);
  auto lab = torch::empty({1, 2, 2, 2}, torch::kLong);
  data::copy_crop(half, {0, 0, 0}, {2, 2, 2}, 0, lab, 1);
  EXPECT_TRUE(torch::equal(lab, half[1].unsqueeze(0).to(torch::kLong)));
  auto u8 = torch::full({1, 2, 2, 2}, 200, torch::kUInt8);
  auto f = torch::empty({1, 2, 2, 2});
  data::copy_crop(u8, {0, 0, 0}, {2, 2, 2}, 0, f);
  EXPECT_EQ(f.sum().item<float>(), 1600.0f);
  EXPECT_THROW_MSG(data::copy_crop(v, {0, 0, 0}, {2, 2, 2}, 0, torch::empty({1, 2, 2, 2})),
                   "destination must be contiguous [2, 2, 2, 2]");
}

TEST(Augment, TransposeMaskNeedsEqualSizeAndSpacing) {
  const auto m = data::transpose_mask({32, 160, 160}, {1, 1, 1});
  EXPECT_FALSE(m[0][1]);
  EXPECT_TRUE(m[1][2]);
  EXPECT_TRUE(m[2][1]);
  const auto em = data::transpose_mask({64, 64, 64}, {40, 4, 4});
  EXPECT_FALSE(em[0][1]);
  EXPECT_TRUE(em[1][2]);
  const auto cube = data::transpose_mask({16, 16, 16}, {1, 1, 1.02});
  EXPECT_TRUE(cube[0][2]);
}

TEST(Augment, PretrainParamsFollowTheConfig) {
  config::PretrainAugmentConfig cfg;
  const auto mask = data::transpose_mask({8, 16, 16}, {2, 1, 1});
  std::array<int, 5> ops{};
  for (int i = 0; i < 2000; ++i) {
    data::Rng rng(9, {static_cast<uint64_t>(i)});
    const auto p = data::draw_pretrain_view(rng, cfg, mask, {2, 1, 1});
    EXPECT_EQ(p.perm[0], 0);  // the D axis never moves
    EXPECT_GE(p.zoom, 1 / 1.5 - 1e-12);
    EXPECT_LE(p.zoom, 1.5 + 1e-12);
    EXPECT_LE(std::abs(p.contrast - 1), 0.1 + 1e-12);
    EXPECT_LE(std::abs(p.brightness), 0.1 + 1e-12);
    EXPECT_GE(p.noise_std, 0.01);
    EXPECT_LE(p.noise_std, 0.2);
    EXPECT_TRUE(p.blur_kernel == 3 || p.blur_kernel == 5 || p.blur_kernel == 7 || p.blur_kernel == 9);
    EXPECT_LE(p.blur_sigma, 2.0);
    EXPECT_DOUBLE_EQ(p.axis_scale[0], 0.5);
    ops[static_cast<size_t>(p.op)]++;
  }
  for (int n : ops) EXPECT_GT(n, 330);  // each of the five about 400 times
}

torch::Tensor ramp(int64_t b, int64_t d, int64_t h, int64_t w) {
  return torch::arange(b * d * h * w, torch::kFloat).view({b, 1, d, h, w}).sin() * 50 + 3;
}

torch::Tensor minmax(const torch::Tensor& x) {
  auto mn = x.amin({1, 2, 3, 4}, true), mx = x.amax({1, 2, 3, 4}, true);
  return (x - mn) / (mx - mn);
}

TEST(Augment, EachPretrainOpMatchesItsDefinition) {
  const auto x = ramp(1, 4, 6, 6);
  const auto base = minmax(x);
  data::PretrainViewParams p;  // op None: min-max only
  EXPECT_TRUE(torch::allclose(data::augment_pretrain(x, {p}), base));

  p.perm = {0, 2, 1};
  p.flip = {true, false, false};
  EXPECT_TRUE(torch::allclose(data::augment_pretrain(x, {p}), base.permute({0, 1, 2, 4, 3}).flip({2})));
  p.perm = {0, 1, 2};
  p.flip = {false, false, false};

  p.op = data::PretrainOp::Flip;
  p.flip_axis = 2;
  EXPECT_TRUE(torch::allclose(data::augment_pretrain(x, {p}), base.flip({4})));

  p.op = data::PretrainOp::Intensity;
  p.contrast = 1.1;
  p.brightness = 0.05;
  EXPECT_TRUE(torch::allclose(data::augment_pretrain(x, {p}), minmax((base * 1.1 + 0.05).clamp(0, 1)), 1e-5, 1e-6));

  p.op = data::PretrainOp::Rescale;
  p.zoom = 1.0;
  EXPECT_TRUE(torch::allclose(data::augment_pretrain(x, {p}), base, 1e-5, 1e-5));
  p.zoom = 1.5;
  const auto zoomed = data::augment_pretrain(x, {p});
  EXPECT_FALSE(torch::allclose(zoomed, base, 1e-3, 1e-3));

  p.op = data::PretrainOp::Blur;
  p.blur_sigma = 0.0;
  EXPECT_TRUE(torch::allclose(data::augment_pretrain(x, {p}), base, 1e-5, 1e-6));

  p.op = data::PretrainOp::Noise;
  p.noise_std = 0.1;
  p.noise_seed = 5;
  const auto n1 = data::augment_pretrain(x, {p});
  EXPECT_TRUE(torch::equal(n1, data::augment_pretrain(x, {p})));  // same seed, same noise
  p.noise_seed = 6;
  EXPECT_FALSE(torch::equal(n1, data::augment_pretrain(x, {p})));
  // Output range.
  EXPECT_FLOAT_EQ(n1.min().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(n1.max().item<float>(), 1.0f);
}

TEST(Augment, NoiseHasTheRequestedStd) {
  data::SegSampleParams p;
  p.noise_std = 0.2;
  p.noise_seed = 11;
  const auto n =
      data::augment_seg(torch::zeros({1, 1, 16, 32, 32}), torch::zeros({1, 1, 16, 32, 32}, torch::kLong), {p}).first;
  EXPECT_NEAR(n.std().item<double>(), 0.2, 0.01);
  EXPECT_NEAR(n.mean().item<double>(), 0.0, 0.01);
}

TEST(Augment, GaussianBlurMatchesDirectConvolution) {
  // A 1D impulse along each axis in turn, sigma 1, kernel 5: the taps exp(-t^2/2)/sum.
  std::vector<double> taps;
  double sum = 0;
  for (int t = -2; t <= 2; ++t) sum += std::exp(-0.5 * t * t);
  for (int t = -2; t <= 2; ++t) taps.push_back(std::exp(-0.5 * t * t) / sum);
  for (int axis = 0; axis < 3; ++axis) {
    auto x = torch::zeros({1, 1, 9, 9, 9});
    x[0][0][4][4][4] = 1.0;
    std::array<double, 3> sigma{0, 0, 0};
    sigma[static_cast<size_t>(axis)] = 1.0;
    const auto y = data::gaussian_blur(x, {sigma}, {5});
    for (int t = -2; t <= 2; ++t) {
      std::array<int64_t, 3> at{4, 4, 4};
      at[static_cast<size_t>(axis)] += t;
      EXPECT_NEAR(y[0][0][at[0]][at[1]][at[2]].item<double>(), taps[static_cast<size_t>(t + 2)], 1e-6);
    }
    EXPECT_NEAR(y.sum().item<double>(), 1.0, 1e-5);
  }
  // Replicate padding keeps a constant image constant; per-sample sigmas are independent.
  auto c = torch::full({2, 1, 5, 5, 5}, 3.0f);
  c[1].copy_(ramp(1, 5, 5, 5)[0]);
  const auto y = data::gaussian_blur(c, {{1, 1, 1}, {0, 0, 0}}, {9, 3});
  EXPECT_TRUE(torch::allclose(y[0], c[0]));
  EXPECT_TRUE(torch::allclose(y[1], c[1]));
}

TEST(Augment, BatchedEqualsPerSample) {
  // A sample's result does not depend on the rest of its batch.
  config::PretrainAugmentConfig cfg;
  const auto mask = data::transpose_mask({4, 6, 6}, {1, 1, 1});
  const auto x = ramp(6, 4, 6, 6);
  std::vector<data::PretrainViewParams> ps;
  for (int i = 0; i < 6; ++i) {
    data::Rng rng(4, {static_cast<uint64_t>(i)});
    auto p = data::draw_pretrain_view(rng, cfg, mask, {1, 1, 1});
    p.op = static_cast<data::PretrainOp>(i % 5);  // every op at least once
    ps.push_back(p);
  }
  const auto all = data::augment_pretrain(x, ps);
  for (int i = 0; i < 6; ++i) {
    const auto one = data::augment_pretrain(x.slice(0, i, i + 1), {ps[static_cast<size_t>(i)]});
    EXPECT_TRUE(torch::allclose(all.slice(0, i, i + 1), one, 1e-5, 1e-6)) << "sample " << i;
  }
}

TEST(Augment, SegSpatialTransformsKeepImageAndLabelAligned) {
  // image = label (as float): any spatial transform must keep them equal (nearest vs linear
  // differ only inside a zoom, so zoom is tested on blocky labels at factor 2).
  auto label = (torch::arange(2 * 6 * 8 * 8) % 5).view({2, 1, 6, 8, 8}).to(torch::kLong);
  data::SegSampleParams p0, p1;
  p0.flip = {true, false, true};
  p0.rot90 = 1;
  p1.flip = {false, true, false};
  p1.rot90 = 2;
  auto [img, lab] = data::augment_seg(label.to(torch::kFloat), label, {p0, p1});
  EXPECT_TRUE(torch::equal(img.to(torch::kLong), lab));
  EXPECT_TRUE(torch::equal(lab[0], torch::rot90(label[0], 1, {2, 3}).flip({1, 3})));
  EXPECT_TRUE(torch::equal(lab[1], torch::rot90(label[1], 2, {2, 3}).flip({2})));

  auto blocks = torch::zeros({1, 1, 8, 8, 8}, torch::kLong);
  blocks.slice(2, 2, 6).slice(3, 2, 6).slice(4, 2, 6).fill_(3);
  data::SegSampleParams z;
  z.zoom = 2.0;  // magnify: the 4^3 block fills the whole patch
  auto [zi, zl] = data::augment_seg(blocks.to(torch::kFloat), blocks, {z});
  EXPECT_EQ(zl.min().item<int64_t>(), 3);
  // Trilinear image: 3 everywhere except the outermost voxels, which straddle the block edge.
  const auto inner = zi.slice(2, 1, 7).slice(3, 1, 7).slice(4, 1, 7);
  EXPECT_TRUE(torch::allclose(inner, torch::full_like(inner, 3.0f)));
  EXPECT_NEAR(zi[0][0][0][4][4].item<double>(), 2.25, 1e-5);

  data::SegSampleParams in;
  in.mult = 2.0;
  in.shift = 0.5;
  auto [ii, il] = data::augment_seg(torch::ones({1, 2, 2, 2, 2}), torch::zeros({1, 1, 2, 2, 2}, torch::kLong), {in});
  EXPECT_TRUE(torch::allclose(ii, torch::full({1, 2, 2, 2, 2}, 2.5f)));
  data::SegSampleParams g;
  g.gamma = 2.0;
  auto lin = torch::linspace(0, 4, 8).view({1, 1, 2, 2, 2});
  auto [gi, gl] = data::augment_seg(lin, torch::zeros({1, 1, 2, 2, 2}, torch::kLong), {g});
  EXPECT_TRUE(torch::allclose(gi, (lin / 4).pow(2) * 4, 1e-5, 1e-6));
  EXPECT_THROW_MSG(data::augment_seg(torch::ones({1, 1, 2, 2, 2}), torch::ones({1, 1, 2, 2, 3}, torch::kLong), {g}),
                   "differ in spatial size");
}

TEST(Augment, SegParamsRespectProbabilities) {
  config::SegAugmentConfig cfg;
  cfg.flip = 0;
  cfg.rot90 = 1;
  cfg.scale = 0;
  cfg.gamma = 0;
  cfg.noise = 1;
  int rot_odd = 0;
  for (int i = 0; i < 200; ++i) {
    data::Rng rng(5, {static_cast<uint64_t>(i)});
    const auto p = data::draw_seg_params(rng, cfg, {8, 16, 12}, {1, 1, 1});
    EXPECT_EQ(p.rot90, 2);  // H != W: only half turns
    EXPECT_EQ(p.flip, (std::array<bool, 3>{false, false, false}));
    EXPECT_EQ(p.zoom, 1.0);
    EXPECT_GT(p.noise_std, -1.0);
    data::Rng rng2(5, {static_cast<uint64_t>(i)});
    rot_odd += data::draw_seg_params(rng2, cfg, {8, 16, 16}, {1, 1, 1}).rot90 % 2;
  }
  EXPECT_GT(rot_odd, 100);
}

TEST(Augment, CpuKernelsMatchTheTensorOps) {
  config::PretrainAugmentConfig cfg;
  const auto mask = data::transpose_mask({6, 8, 8}, {1, 1, 1});
  const auto x = torch::rand({12, 1, 6, 8, 8}, at::detail::createCPUGenerator(3)) * 7 - 2;
  std::vector<data::PretrainViewParams> ps;
  for (int i = 0; i < 12; ++i) {
    data::Rng rng(8, {static_cast<uint64_t>(i)});
    auto p = data::draw_pretrain_view(rng, cfg, mask, {1, 1, 2});
    p.op = static_cast<data::PretrainOp>(i % 6);
    p.blur_sigma = 0.5 + 0.25 * (i % 4);
    ps.push_back(p);
  }
  EXPECT_TRUE(torch::allclose(data::augment_pretrain(x, ps), data::augment_pretrain_tensor_ops(x, ps), 1e-4, 1e-5));

  config::SegAugmentConfig sc;
  sc.scale = sc.intensity = sc.gamma = sc.noise = sc.blur = 0.5;
  const auto img = torch::rand({8, 2, 6, 8, 8}, at::detail::createCPUGenerator(4));
  const auto lab = torch::randint(0, 4, {8, 1, 6, 8, 8}, at::detail::createCPUGenerator(5));
  std::vector<data::SegSampleParams> sp;
  const double zooms[] = {1.3, 0.77, 1.0, 1.13};
  for (int i = 0; i < 8; ++i) {
    data::Rng rng(9, {static_cast<uint64_t>(i)});
    auto p = data::draw_seg_params(rng, sc, {6, 8, 8}, {2, 1, 1});
    p.zoom = zooms[i % 4];
    sp.push_back(p);
  }
  const auto [ci, cl] = data::augment_seg(img, lab, sp);
  const auto [ti, tl] = data::augment_seg_tensor_ops(img, lab, sp);
  EXPECT_TRUE(torch::allclose(ci, ti, 1e-4, 1e-5));
  EXPECT_TRUE(torch::equal(cl, tl));
}

}  // namespace
}  // namespace gtgm
