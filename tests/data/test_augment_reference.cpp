// data.pretrain_augment.views=reference: the two views against the reference code's own functions
// on fixed draws (scripts/reference/augment_reference.py), the shared flip, the draw distribution,
// and the config checks.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "gtgm/data/reference_views.h"
#include "test_util.h"
// After reference_views.h: the golden cases are RefViewDraws initialisers.
#include "augment_reference_golden.h"

namespace gtgm {
namespace {

using data::Index3;
using Kind = data::RefPerturbation;

/// The golden volume: ((i * 37 + 11) % 256) / 255 (uint8 / 255.0 in float32, as the reference).
torch::Tensor golden_volume() {
  using namespace golden_ref_views;
  auto v = torch::empty({kD, kH, kW}, torch::kFloat);
  float* p = v.data_ptr<float>();
  for (int64_t i = 0; i < v.numel(); ++i) p[i] = static_cast<float>((i * 37 + 11) % 256) / 255.0f;
  return v;
}

/// The script's noise field: Z[i] = 1.1 sin(1.3 i + 0.2) over a view's flat index.
torch::Tensor golden_noise(int64_t d, int64_t h, int64_t w) {
  auto z = torch::empty({d, h, w}, torch::kDouble);
  double* p = z.data_ptr<double>();
  for (int64_t i = 0; i < z.numel(); ++i) p[i] = 1.1 * std::sin(1.3 * static_cast<double>(i) + 0.2);
  return z;
}

TEST(RefViews, MatchTheReferenceOnFixedDraws) {
  using namespace golden_ref_views;
  const auto volume = golden_volume();
  const Index3 crop{kCropD, kCropHW, kCropHW};
  std::set<int> kinds;
  for (const auto& c : cases()) {
    data::RefSampleDraws d;
    d.corner = {c.corner[0], c.corner[1], c.corner[2]};
    d.shared = c.shared;
    for (int v = 0; v < 2; ++v) {
      d.views[v] = c.views[v];
      if (d.views[v].kind == Kind::Noise) d.views[v].noise = golden_noise(kCropD, kCropHW, kCropHW);
      kinds.insert(static_cast<int>(d.views[v].kind));
    }
    const auto views = data::reference_views(volume, d, crop, kContext);
    const std::vector<double>* want[2] = {&c.view1, &c.view2};
    for (int v = 0; v < 2; ++v) {
      ASSERT_EQ(views[v].sizes(), torch::IntArrayRef({kCropD, kCropHW, kCropHW})) << c.name;
      ASSERT_EQ(static_cast<int64_t>(want[v]->size()), views[v].numel()) << c.name;
      const float* got = views[v].data_ptr<float>();
      for (size_t k = 0; k < want[v]->size(); ++k) {
        ASSERT_NEAR(got[k], (*want[v])[k], 1e-5) << c.name << " view " << v + 1 << " voxel " << k;
      }
    }
  }
  EXPECT_EQ(kinds.size(), 5u);  // every perturbation kind is in the table
}

/// simple_aug's rule written with torch ops: z flip, x (W) flip, y (H) flip, then the H/W transpose.
torch::Tensor torch_rule(torch::Tensor x, const data::FlipRule& r) {
  if (r[0]) x = x.flip({0});
  if (r[1]) x = x.flip({2});
  if (r[2]) x = x.flip({1});
  if (r[3]) x = x.transpose(1, 2);
  return x.contiguous();
}

TEST(RefViews, SharedRuleReachesBothViewsAndPerViewFlipsComposeAfterIt) {
  // A non-symmetric volume, 3 x 10 x 10, crop 3 x 6 x 6 with context 2 (the whole volume).
  auto vol = torch::arange(300, torch::kFloat).view({3, 10, 10}).pow(1.3);
  vol = vol / vol.max();
  const Index3 crop{3, 6, 6};
  for (int bits = 0; bits < 16; ++bits) {
    data::RefSampleDraws d;
    d.shared = {(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0, (bits & 8) != 0};
    d.views[0].kind = Kind::Flip;  // rule all false: the view is the shared crop
    d.views[1].kind = Kind::Flip;
    d.views[1].rule = {true, false, false, true};  // a second flip on top of the shared one
    const auto views = data::reference_views(vol, d, crop, 2);
    auto expect = torch_rule(vol, d.shared).slice(1, 2, 8).slice(2, 2, 8);
    expect = (expect - expect.min()) / (expect.max() - expect.min());
    EXPECT_TRUE(torch::allclose(views[0], expect, 1e-6, 1e-6)) << "rule bits " << bits;
    EXPECT_TRUE(torch::allclose(views[1], torch_rule(expect, d.views[1].rule), 1e-6, 1e-6)) << "rule bits " << bits;
  }
}

TEST(RefViews, DrawsFollowTheReferenceProbabilitiesAndRanges) {
  config::PretrainAugmentConfig cfg;
  cfg.views = config::PretrainViews::Reference;
  cfg.intensity = 0.05;
  data::Rng rng(7);
  const Index3 shape{40, 400, 400}, crop{24, 224, 224};
  const int n = 4000;
  int shared_applied = 0, intensity3d = 0, intensity = 0;
  std::map<int, int> kinds, kernels;
  std::set<int64_t> scale_sizes;
  for (int i = 0; i < n; ++i) {
    const auto d = data::draw_reference_views(rng, cfg, shape, crop);
    EXPECT_GE(d.corner[0], 0);
    EXPECT_LE(d.corner[0], 40 - 24);
    EXPECT_LE(d.corner[1], 400 - 384);  // the context crop: 224 + 2 * 80
    shared_applied += d.shared != data::FlipRule{} ? 1 : 0;
    for (const auto& v : d.views) {
      ++kinds[static_cast<int>(v.kind)];
      switch (v.kind) {
        case Kind::Rescale:
          EXPECT_EQ(v.scale_size % 2, 0);
          scale_sizes.insert(v.scale_size);
          break;
        case Kind::Intensity:
          ++intensity;
          intensity3d += v.intensity_3d ? 1 : 0;
          ASSERT_EQ(v.intensity.size(), v.intensity_3d ? 1u : 24u);
          for (const auto& t : v.intensity) {
            EXPECT_GE(t[0], 0.95);
            EXPECT_LT(t[0], 1.05);
            EXPECT_GE(t[1], -0.05);
            EXPECT_LT(t[1], 0.05);
            EXPECT_GE(t[2], 0.5);
            EXPECT_LT(t[2], 2.0);
          }
          break;
        case Kind::Noise:
          EXPECT_GE(v.noise_std, 0.01);
          EXPECT_LE(v.noise_std, 0.2);
          EXPECT_EQ(v.noise.sizes(), torch::IntArrayRef({24, 224, 224}));
          break;
        case Kind::Blur:
          ++kernels[v.blur_kernel];
          EXPECT_GE(v.blur_sigma, 0.0);
          EXPECT_LE(v.blur_sigma, 2.0);
          break;
        case Kind::Flip:
          break;
      }
    }
  }
  // simple_aug runs with probability 0.5 and its rule is then the identity 1 time in 16.
  EXPECT_NEAR(shared_applied / double(n), 0.5 * 15.0 / 16.0, 0.03);
  ASSERT_EQ(kinds.size(), 5u);
  for (const auto& [k, count] : kinds) EXPECT_NEAR(count / (2.0 * n), 0.2, 0.02) << "kind " << k;
  EXPECT_NEAR(intensity3d / double(intensity), 0.25, 0.05);  // 'mix': 3D above 0.75
  // Rescale: 2 * randint(224 // 1.5 // 2, 224 * 1.5 // 2) = 148 .. 336, every even size.
  EXPECT_EQ(*scale_sizes.begin(), 148);
  EXPECT_EQ(*scale_sizes.rbegin(), 336);
  EXPECT_EQ(scale_sizes.size(), 95u);
  EXPECT_EQ(kernels.size(), 4u);  // 3, 5, 7, 9
  EXPECT_EQ(kernels.begin()->first, 3);
  EXPECT_EQ(kernels.rbegin()->first, 9);
}

TEST(RefViews, DrawsAreAFunctionOfTheStream) {
  config::PretrainAugmentConfig cfg;
  data::Rng a(11), b(11);
  for (int i = 0; i < 50; ++i) {
    const auto x = data::draw_reference_views(a, cfg, {30, 300, 300}, {16, 96, 96});
    const auto y = data::draw_reference_views(b, cfg, {30, 300, 300}, {16, 96, 96});
    EXPECT_EQ(x.corner, y.corner);
    EXPECT_EQ(x.shared, y.shared);
    for (int v = 0; v < 2; ++v) {
      EXPECT_EQ(x.views[v].kind, y.views[v].kind);
      EXPECT_EQ(x.views[v].scale_size, y.views[v].scale_size);
      EXPECT_EQ(x.views[v].intensity, y.views[v].intensity);
      if (x.views[v].kind == Kind::Noise) EXPECT_TRUE(torch::equal(x.views[v].noise, y.views[v].noise));
    }
  }
}

TEST(RefViews, RefusesCropsAndContextsTheReferenceCannotUse) {
  config::PretrainAugmentConfig cfg;
  EXPECT_THROW_MSG(data::check_reference_views(cfg, {24, 224, 192}),
                   "data.pretrain_augment.views=reference needs a square in-plane crop (data.crop_size H == W");
  cfg.context = 40;
  EXPECT_THROW_MSG(data::check_reference_views(cfg, {24, 224, 224}),
                   "data.pretrain_augment.context must be >= 56 for a 224-voxel crop and rescale_max 1.5");
  cfg.context = 56;
  EXPECT_NO_THROW(data::check_reference_views(cfg, {24, 224, 224}));
  data::RefSampleDraws d;
  d.corner = {0, 5, 0};
  EXPECT_THROW_MSG(data::reference_views(torch::zeros({4, 12, 12}), d, {2, 6, 6}, 3),
                   "reference views: the context crop 5..17 leaves the volume (12 voxels) on axis 1");
}

}  // namespace
}  // namespace gtgm
