// EM: affinities from labels, seeded watershed and mean-affinity agglomeration on tiny volumes.
#include <gtest/gtest.h>

#include "gtgm/infer/affinities.h"
#include "gtgm/infer/instance_metrics.h"
#include "gtgm/infer/watershed.h"
#include "test_util.h"

namespace gtgm {
namespace {

// A [10, 24, 24] volume tiled by boxes (z split at 5, y at 9 and 17, x at 7 and 15), several boxes
// sharing one label so that objects are non-convex (a U shape, an L shape, a bar through z), ids
// not consecutive. With `membranes`, a voxel whose next neighbour along any axis has another label
// becomes background (0), so objects are separated by one-voxel membranes.
torch::Tensor boxes(bool membranes) {
  const int64_t ids[2][3][3] = {{{40, 40, 40}, {40, 11, 40}, {12, 12, 13}},   // z part 0: U shape of 40
                                {{21, 22, 23}, {21, 24, 25}, {21, 21, 13}}};  // z part 1: L of 21; 13 spans z
  torch::Tensor lab = torch::zeros({10, 24, 24}, torch::kInt64);
  auto a = lab.accessor<int64_t, 3>();
  for (int64_t z = 0; z < 10; ++z)
    for (int64_t y = 0; y < 24; ++y)
      for (int64_t x = 0; x < 24; ++x)
        a[z][y][x] = ids[z < 5 ? 0 : 1][y < 9 ? 0 : y < 17 ? 1 : 2][x < 7 ? 0 : x < 15 ? 1 : 2];
  if (!membranes) return lab;
  torch::Tensor out = lab.clone();
  auto o = out.accessor<int64_t, 3>();
  for (int64_t z = 0; z < 10; ++z)
    for (int64_t y = 0; y < 24; ++y)
      for (int64_t x = 0; x < 24; ++x)
        if ((z + 1 < 10 && a[z + 1][y][x] != a[z][y][x]) || (y + 1 < 24 && a[z][y + 1][x] != a[z][y][x]) ||
            (x + 1 < 24 && a[z][y][x + 1] != a[z][y][x]))
          o[z][y][x] = 0;
  return out;
}

void expect_same_partition(const torch::Tensor& pred, const torch::Tensor& ref) {
  infer::VoiResult voi = infer::variation_of_information(pred, ref, {});
  EXPECT_NEAR(voi.split, 0.0, 1e-12);
  EXPECT_NEAR(voi.merge, 0.0, 1e-12);
}

TEST(EvalAffinities, ExactSmallVolumes) {
  // Along W: labels 1 1 2 2 0 0 -> affinity to the previous voxel 0 1 0 1 0 0 (background -> 0).
  torch::Tensor aff = infer::affinities_from_labels(torch::tensor({1, 1, 2, 2, 0, 0}).view({1, 1, 6}));
  ASSERT_EQ(aff.sizes(), torch::IntArrayRef({3, 1, 1, 6}));
  EXPECT_TRUE(torch::equal(aff[2].flatten(), torch::tensor({0.f, 1.f, 0.f, 1.f, 0.f, 0.f})));
  EXPECT_EQ(aff[0].sum().item<float>(), 0.f);
  EXPECT_EQ(aff[1].sum().item<float>(), 0.f);
  // Along D and H in a [2, 2, 1] volume.
  torch::Tensor lab = torch::tensor({3, 3, 3, 4}).view({2, 2, 1});
  aff = infer::affinities_from_labels(lab);
  EXPECT_TRUE(torch::equal(aff[0].flatten(), torch::tensor({0.f, 0.f, 1.f, 0.f})));  // z: (1,0) same, (1,1) differs
  EXPECT_TRUE(torch::equal(aff[1].flatten(), torch::tensor({0.f, 1.f, 0.f, 0.f})));  // y: (0,1) same, (1,1) differs
  torch::Tensor mask = infer::affinity_valid_mask({2, 2, 1});
  EXPECT_TRUE(torch::equal(mask[0].flatten(), torch::tensor({0.f, 0.f, 1.f, 1.f})));
  EXPECT_TRUE(torch::equal(mask[2].flatten(), torch::zeros({4})));
  EXPECT_THROW_MSG(infer::affinities_from_labels(torch::zeros({2, 2})), "expected labels [D, H, W], got shape [2, 2]");
  EXPECT_THROW_MSG(infer::affinities_from_labels(torch::zeros({2, 2, 2})),
                   "labels must have an integer dtype, got Float");
}

TEST(EvalWatershed, PerfectAffinitiesReconstructTheLabels) {
  torch::Tensor lab = boxes(false);
  torch::Tensor seg = infer::segment_affinities(infer::affinities_from_labels(lab));
  EXPECT_EQ(seg.max().item<int64_t>(), 9);  // 9 distinct ids
  EXPECT_EQ(seg.min().item<int64_t>(), 1);
  expect_same_partition(seg, lab);
}

TEST(EvalWatershed, DumbbellIsOverSegmentedThenMerged) {
  // Two 7^3 cubes of label 1 joined by a 3x3 neck, inside label 2: two distance maxima, so two
  // seeds and fragments; agglomeration joins them across the neck (mean affinity 1).
  using torch::indexing::Slice;
  torch::Tensor lab = torch::full({9, 9, 21}, 2, torch::kInt64);
  lab.index_put_({Slice(1, 8), Slice(1, 8), Slice(1, 8)}, 1);
  lab.index_put_({Slice(1, 8), Slice(1, 8), Slice(13, 20)}, 1);
  lab.index_put_({Slice(3, 6), Slice(3, 6), Slice(8, 13)}, 1);
  torch::Tensor aff = infer::affinities_from_labels(lab);
  torch::Tensor fragments = infer::watershed_fragments(aff);
  EXPECT_NE(fragments[4][4][4].item<int64_t>(), fragments[4][4][16].item<int64_t>());
  torch::Tensor seg = infer::agglomerate(fragments, aff, 0.5);
  EXPECT_EQ(seg.max().item<int64_t>(), 2);
  expect_same_partition(seg, lab);
}

TEST(EvalWatershed, PerfectAffinitiesWithBackgroundMembranes) {
  torch::Tensor lab = boxes(true);
  ASSERT_GT(lab.eq(0).sum().item<int64_t>(), 100);
  infer::WatershedOptions opt;
  opt.background_threshold = 0.5;
  opt.spacing_dhw = {3.0, 1.0, 1.0};
  torch::Tensor seg = infer::segment_affinities(infer::affinities_from_labels(lab), opt);
  EXPECT_TRUE(torch::equal(seg.eq(0), lab.eq(0)));
  expect_same_partition(seg, lab);  // background included as a segment of its own
}

TEST(EvalWatershed, NoisyAffinitiesStillReconstruct) {
  // Noise of +-0.3 keeps every edge inside a cell above every edge between cells.
  torch::Tensor lab = boxes(false);
  torch::manual_seed(11);
  torch::Tensor aff = infer::affinities_from_labels(lab);
  aff = (aff + (torch::rand(aff.sizes()) - 0.5) * 0.6).clamp(0, 1);
  expect_same_partition(infer::segment_affinities(aff), lab);
}

TEST(EvalWatershed, AgglomerationMergesFragmentsAndRecomputesMeans) {
  // Over-segmented labels (each object split at x = 12) with perfect affinities merge back.
  torch::Tensor lab = boxes(false);
  torch::Tensor split = lab * 2 + (torch::arange(24).view({1, 1, 24}) >= 12).to(torch::kInt64);
  torch::Tensor aff = infer::affinities_from_labels(lab);
  expect_same_partition(infer::agglomerate(split, aff, 0.5), lab);
  EXPECT_EQ(infer::agglomerate(split, aff, 1.0).max().item<int64_t>(), std::get<0>(torch::_unique(split)).size(0));
  // Fragments (y, x) in a 1x2x3 volume: A A C / B B C. A-B edges 0.9, A-C 0.4, B-C 0.8.
  // After A+B merge, AB-C scores (0.4 + 0.8) / 2 = 0.6: merged at threshold 0.5, not at 0.7.
  torch::Tensor frag = torch::tensor({1, 1, 3, 2, 2, 3}).view({1, 2, 3});
  torch::Tensor a = torch::zeros({3, 1, 2, 3});
  a[1][0][1][0] = 0.9f;
  a[1][0][1][1] = 0.9f;
  a[2][0][0][2] = 0.4f;
  a[2][0][1][2] = 0.8f;
  EXPECT_TRUE(torch::equal(infer::agglomerate(frag, a, 0.7), torch::tensor({1, 1, 2, 1, 1, 2}).view({1, 2, 3})));
  EXPECT_TRUE(torch::equal(infer::agglomerate(frag, a, 0.5), torch::ones({1, 2, 3}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(infer::agglomerate(frag, a, 0.95), torch::tensor({1, 1, 2, 3, 3, 2}).view({1, 2, 3})));
}

TEST(EvalWatershed, RejectsBadInput) {
  EXPECT_THROW_MSG(infer::watershed_fragments(torch::zeros({2, 4, 4, 4})),
                   "expected affinities [3, D, H, W], got shape [2, 4, 4, 4]");
  EXPECT_THROW_MSG(infer::watershed_fragments(torch::zeros({3, 4, 4, 4}, torch::kInt64)),
                   "affinities must be floating point");
  EXPECT_THROW_MSG(infer::agglomerate(torch::zeros({4, 4, 5}, torch::kInt64), torch::zeros({3, 4, 4, 4}), 0.5),
                   "fragments have shape [4, 4, 5] but the affinities [3, 4, 4, 4] need [4, 4, 4]");
}

}  // namespace
}  // namespace gtgm
