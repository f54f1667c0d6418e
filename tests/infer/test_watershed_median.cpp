// Median-affinity agglomeration (finetune.affinity_merge: median), the reference's CREMI
// validation score (NeuronSeg/main.py:276: waterz HistogramQuantileAffinity 50 over 256 bins).
// Golden values printed by /usr/bin/python3 scripts/reference/agglomeration_reference.py (waterz's
// HistogramQuantileProvider::value() ported as it is).
#include <gtest/gtest.h>

#include <cmath>

#include "gtgm/infer/watershed.h"
#include "test_util.h"

namespace gtgm {
namespace {

std::array<uint32_t, 256> level_histogram(const std::vector<int>& levels) {
  std::array<uint32_t, 256> h{};
  for (int l : levels) h[static_cast<size_t>(l)] += 1;
  return h;
}

TEST(EvalAgglomerationMedian, HistogramQuantileMatchesWaterz) {
  struct Case {
    std::vector<int> levels;
    double median, q25;  // script output
  };
  for (const auto& c : std::vector<Case>{{{102, 102, 102, 255, 255}, 0.4, 0.4},
                                         {{0, 0, 153, 153, 153}, 0.6, 0.0},
                                         {{10, 20, 30, 40}, 0.11764705882352941, 0.0784313725490196},
                                         {{77}, 0.30196078431372547, 0.30196078431372547},
                                         {{102, 102, 102, 255, 255, 0, 0, 153, 153, 153}, 0.6, 0.4}}) {
    const auto h = level_histogram(c.levels);
    EXPECT_NEAR(infer::histogram_quantile(h, 50), c.median, 1e-15) << c.levels.size();
    EXPECT_NEAR(infer::histogram_quantile(h, 25), c.q25, 1e-15) << c.levels.size();
  }
  EXPECT_TRUE(std::isnan(infer::histogram_quantile(std::array<uint32_t, 256>{}, 50)));
}

// Two fragments side by side ([1, 5, 2]: column w = 0 and w = 1) whose 5 boundary edges carry
// `boundary` (the W-axis affinity stored at the w = 1 voxels); every other edge is 1.
torch::Tensor two_fragment_affinities(const std::vector<float>& boundary) {
  auto aff = torch::ones({3, 1, 5, 2});
  for (int64_t h = 0; h < 5; ++h) aff[2][0][h][1] = boundary[static_cast<size_t>(h)];
  return aff;
}

TEST(EvalAgglomerationMedian, MeanAndMedianDisagreeWhereTheyShould) {
  const auto fragments = torch::tensor({1, 2, 1, 2, 1, 2, 1, 2, 1, 2}, torch::kInt64).view({1, 5, 2});
  using config::AffinityMerge;
  // mean 0.64 > 0.5 merges; median 0.4 does not.
  auto aff = two_fragment_affinities({0.4f, 0.4f, 0.4f, 1.0f, 1.0f});
  EXPECT_EQ(infer::agglomerate(fragments, aff, 0.5, AffinityMerge::Mean).max().item<int64_t>(), 1);
  EXPECT_EQ(infer::agglomerate(fragments, aff, 0.5, AffinityMerge::Median).max().item<int64_t>(), 2);
  // mean 0.36 does not merge; median 0.6 does.
  aff = two_fragment_affinities({0.0f, 0.0f, 0.6f, 0.6f, 0.6f});
  EXPECT_EQ(infer::agglomerate(fragments, aff, 0.5, AffinityMerge::Mean).max().item<int64_t>(), 2);
  EXPECT_EQ(infer::agglomerate(fragments, aff, 0.5, AffinityMerge::Median).max().item<int64_t>(), 1);
  // Strictly above the threshold: median 0.6 at threshold 0.6 stays split.
  EXPECT_EQ(infer::agglomerate(fragments, aff, 0.6, AffinityMerge::Median).max().item<int64_t>(), 2);
}

TEST(EvalAgglomerationMedian, MergedRegionsSumTheirHistograms) {
  // [1, 2, 3]: row 0 = a b c, row 1 = c c c. a|b (one edge) 0.9 merges first. b|c alone is
  // {0.0, 0.6}: median 0.6 (pivot 2 of 2) would merge; but a+b|c sums a|c {0.0} into it:
  // {0.0, 0.0, 0.6}, median 0.0, so c stays apart.
  const auto fragments = torch::tensor({1, 2, 3, 3, 3, 3}, torch::kInt64).view({1, 2, 3});
  auto aff = torch::ones({3, 1, 2, 3});
  aff[2][0][0][1] = 0.9f;  // a|b (W edge stored at b)
  aff[2][0][0][2] = 0.0f;  // b|c (W edge at (0, 2))
  aff[1][0][1][1] = 0.6f;  // b|c (H edge at (1, 1))
  aff[1][0][1][0] = 0.0f;  // a|c (H edge at (1, 0))
  const auto want = torch::tensor({1, 1, 2, 2, 2, 2}, torch::kInt64).view({1, 2, 3});
  EXPECT_TRUE(torch::equal(infer::agglomerate(fragments, aff, 0.5, config::AffinityMerge::Median), want));
  EXPECT_TRUE(torch::equal(infer::agglomerate(fragments, aff, 0.5, config::AffinityMerge::Mean), want));
  // Without a: b|c alone merges by its median 0.6, not by its mean 0.3.
  const auto bc = torch::tensor({1, 2, 3, 3, 3, 3}, torch::kInt64).view({1, 2, 3});
  auto aff2 = aff.clone();
  aff2[2][0][0][1] = 0.0f;  // a|b no longer merges (median 0)
  aff2[1][0][1][0] = 0.0f;
  EXPECT_TRUE(torch::equal(infer::agglomerate(bc, aff2, 0.5, config::AffinityMerge::Median),
                           torch::tensor({1, 2, 2, 2, 2, 2}, torch::kInt64).view({1, 2, 3})));
  EXPECT_TRUE(torch::equal(infer::agglomerate(bc, aff2, 0.5, config::AffinityMerge::Mean), bc));
}

}  // namespace
}  // namespace gtgm
