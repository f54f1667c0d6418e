// Metric parity with scipy / scikit-image / CREMI goldens (scripts/reference/metrics_reference.py),
// exact small cases and the documented empty-mask rules.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gtgm/infer/distance_transform.h"
#include "gtgm/infer/instance_metrics.h"
#include "gtgm/infer/metrics.h"
#include "test_util.h"

namespace gtgm {
namespace {

using nlohmann::json;

const json& golden() {
  static const json g = [] {
    std::ifstream in(std::string(GTGM_TEST_DATA_DIR) + "/metrics_golden.json");
    EXPECT_TRUE(in.good()) << "missing tests/data/metrics_golden.json";
    return json::parse(in);
  }();
  return g;
}

torch::Tensor shaped(const json& values, const json& shape, torch::ScalarType dtype) {
  std::vector<int64_t> sizes = shape.get<std::vector<int64_t>>();
  if (dtype == torch::kFloat64) return torch::tensor(values.get<std::vector<double>>(), torch::kFloat64).reshape(sizes);
  return torch::tensor(values.get<std::vector<int64_t>>(), torch::kInt64).reshape(sizes).to(dtype);
}

std::array<double, 3> spacing_of(const json& c) { return c.at("spacing").get<std::array<double, 3>>(); }

torch::Tensor box(std::array<int64_t, 3> shape, std::array<int64_t, 3> lo, std::array<int64_t, 3> hi) {
  using torch::indexing::Slice;
  torch::Tensor m = torch::zeros({shape[0], shape[1], shape[2]}, torch::kBool);
  m.index_put_({Slice(lo[0], hi[0]), Slice(lo[1], hi[1]), Slice(lo[2], hi[2])}, true);
  return m;
}

TEST(EvalDistanceTransform, MatchesScipyWithAnisotropicSpacing) {
  for (const auto& c : golden().at("edt")) {
    torch::Tensor feat = shaped(c.at("features"), c.at("shape"), torch::kUInt8);
    torch::Tensor expected = shaped(c.at("distance"), c.at("shape"), torch::kFloat64);
    torch::Tensor got = infer::distance_to_features(feat, spacing_of(c));
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-9) << "shape " << c.at("shape").dump();
  }
}

TEST(EvalDistanceTransform, ExactValuesAndEmptyImage) {
  torch::Tensor f = torch::zeros({1, 1, 5}, torch::kUInt8);
  f[0][0][1] = 1;
  torch::Tensor d = infer::distance_to_features(f, {1.0, 1.0, 2.0});
  std::vector<double> got(d.data_ptr<double>(), d.data_ptr<double>() + 5);
  EXPECT_EQ(got, (std::vector<double>{2, 0, 2, 4, 6}));
  torch::Tensor none = infer::distance_to_features(torch::zeros({2, 3, 4}, torch::kBool), {1, 1, 1});
  EXPECT_TRUE(none.isinf().all().item<bool>());
  // Diagonal neighbour in an anisotropic grid: sqrt(3^2 + 0.5^2).
  torch::Tensor g = torch::zeros({2, 2, 1}, torch::kBool);
  g[0][0][0] = true;
  EXPECT_NEAR(infer::distance_to_features(g, {3.0, 0.5, 1.0})[1][1][0].item<double>(), std::sqrt(9.25), 1e-12);
}

TEST(EvalDistanceTransform, RejectsBadInput) {
  EXPECT_THROW_MSG(infer::distance_to_features(torch::zeros({3, 3}), {1, 1, 1}),
                   "expected a [D, H, W] mask, got shape [3, 3]");
  EXPECT_THROW_MSG(infer::distance_to_features(torch::zeros({2, 2, 2}), {1, 0, 1}),
                   "spacing must be positive and finite, got 0 on axis 1");
}

TEST(EvalMetrics, SurfaceVoxelsOfACube) {
  // 3x3x3 cube inside a 5x5x5 image: all but the centre voxel are surface.
  torch::Tensor s = infer::surface_voxels(box({5, 5, 5}, {1, 1, 1}, {4, 4, 4}));
  EXPECT_EQ(s.sum().item<int64_t>(), 26);
  EXPECT_FALSE(s[2][2][2].item<bool>());
  // A full image: only the voxels on the image border are surface (outside counts as background).
  EXPECT_EQ(infer::surface_voxels(torch::ones({3, 3, 3}, torch::kBool)).sum().item<int64_t>(), 26);
}

TEST(EvalMetrics, DiceExactValuesAndEmptyRule) {
  torch::Tensor p = torch::tensor({1, 1, 0, 0}), r = torch::tensor({1, 0, 1, 0});
  EXPECT_DOUBLE_EQ(infer::dice(p, r), 0.5);
  EXPECT_DOUBLE_EQ(infer::dice(p, p), 1.0);
  EXPECT_DOUBLE_EQ(infer::dice(p, torch::zeros({4})), 0.0);
  EXPECT_TRUE(std::isnan(infer::dice(torch::zeros({4}), torch::zeros({4}))));
  EXPECT_DOUBLE_EQ(infer::dice(torch::zeros({4}), torch::zeros({4}), /*both_empty_as_perfect=*/true), 1.0);
  EXPECT_THROW_MSG(infer::dice(p, torch::zeros({5})), "dice: prediction has shape [4] but reference has shape [5]");
}

TEST(EvalMetrics, PercentileIsNumpyLinear) {
  EXPECT_NEAR(infer::percentile({4, 1, 3, 2}, 95), 3.85, 1e-12);  // numpy.percentile([1,2,3,4], 95)
  EXPECT_DOUBLE_EQ(infer::percentile({7}, 95), 7);
  EXPECT_DOUBLE_EQ(infer::percentile({1, 2, 3}, 50), 2);
  EXPECT_TRUE(std::isnan(infer::percentile({}, 95)));
}

TEST(EvalMetrics, Hd95AndNsdOfShiftedBoxes) {
  // Two 1x1x4 bars, the second shifted by 3 voxels along W with spacing 2 along W:
  // pred surface {0..3}, ref surface {3..6} -> directed distances {6,4,2,0} (sorted {0,2,4,6}).
  torch::Tensor p = box({1, 1, 10}, {0, 0, 0}, {1, 1, 4}), r = box({1, 1, 10}, {0, 0, 3}, {1, 1, 7});
  const std::array<double, 3> sp{1.0, 1.0, 2.0};
  EXPECT_NEAR(infer::hd95(p, r, sp), infer::percentile({0, 2, 4, 6}, 95), 1e-12);
  EXPECT_NEAR(infer::surface_dice(p, r, sp, 2.0), 4.0 / 8.0, 1e-12);
  EXPECT_NEAR(infer::surface_dice(p, r, sp, 6.0), 1.0, 1e-12);
  // Empty rules: both empty -> NaN (or perfect), one empty -> image diagonal / NSD 0.
  torch::Tensor empty = torch::zeros({1, 1, 10}, torch::kBool);
  EXPECT_TRUE(std::isnan(infer::hd95(empty, empty, sp)));
  EXPECT_DOUBLE_EQ(infer::hd95(empty, empty, sp, true), 0.0);
  EXPECT_DOUBLE_EQ(infer::surface_dice(empty, empty, sp, 1.0, true), 1.0);
  EXPECT_NEAR(infer::hd95(p, empty, sp), std::sqrt(1.0 + 1.0 + 400.0), 1e-12);
  EXPECT_DOUBLE_EQ(infer::surface_dice(empty, r, sp, 1.0), 0.0);
}

TEST(EvalMetrics, SegmentationMatchesReferenceGoldens) {
  for (const auto& c : golden().at("segmentation")) {
    infer::SegmentationMetricOptions opt;
    opt.labels = c.at("labels").get<std::vector<int64_t>>();
    opt.metrics = {"dice", "hd95", "nsd"};
    opt.spacing_dhw = spacing_of(c);
    opt.nsd_tolerance = c.at("nsd_tolerance").get<double>();
    auto scores = infer::score_segmentation(shaped(c.at("pred"), c.at("shape"), torch::kUInt8),
                                            shaped(c.at("ref"), c.at("shape"), torch::kInt16), opt);
    for (int64_t label : opt.labels) {
      for (const auto& m : opt.metrics) {
        const json& want = c.at("scores").at(std::to_string(label)).at(m);
        const double got = scores.at(label).at(m);
        if (want.is_null()) {
          EXPECT_TRUE(std::isnan(got)) << "label " << label << " " << m;
        } else {
          EXPECT_NEAR(got, want.get<double>(), 1e-6)
              << "label " << label << " " << m << " case " << c.at("shape").dump();
        }
      }
    }
  }
}

TEST(EvalMetrics, SegmentationRejectsBadInput) {
  infer::SegmentationMetricOptions opt;
  opt.labels = {1};
  torch::Tensor a = torch::zeros({2, 2, 2}, torch::kInt64);
  EXPECT_THROW_MSG(infer::score_segmentation(a, torch::zeros({2, 2, 3}, torch::kInt64), opt),
                   "prediction has shape [2, 2, 2] but reference has shape [2, 2, 3]");
  EXPECT_THROW_MSG(infer::score_segmentation(a.to(torch::kFloat), a, opt), "label maps must have an integer dtype");
  opt.metrics = {"dice", "jaccard"};
  EXPECT_THROW_MSG(infer::score_segmentation(a, a, opt), "unknown metric 'jaccard' (valid: dice, hd95, nsd)");
}

TEST(EvalInstanceMetrics, MatchesCremiAndSkimageGoldens) {
  for (const auto& c : golden().at("instance")) {
    torch::Tensor pred = shaped(c.at("pred"), c.at("shape"), torch::kInt64);
    torch::Tensor ref = shaped(c.at("ref"), c.at("shape"), torch::kInt32);
    infer::VoiResult voi = infer::variation_of_information(pred, ref);
    EXPECT_NEAR(voi.split, c.at("voi_split").get<double>(), 1e-9);
    EXPECT_NEAR(voi.merge, c.at("voi_merge").get<double>(), 1e-9);
    infer::RandResult rand = infer::adapted_rand_error(pred, ref);
    EXPECT_NEAR(rand.error, c.at("arand").get<double>(), 1e-9);
    EXPECT_NEAR(rand.precision, c.at("arand_precision").get<double>(), 1e-9);
    EXPECT_NEAR(rand.recall, c.at("arand_recall").get<double>(), 1e-9);
  }
}

TEST(EvalInstanceMetrics, ExactSmallCases) {
  torch::Tensor ref = torch::tensor({1, 1, 2, 2}, torch::kInt64);
  // Relabelled identical partition: no error.
  infer::VoiResult same = infer::variation_of_information(torch::tensor({7, 7, 3, 3}), ref);
  EXPECT_DOUBLE_EQ(same.split, 0.0);
  EXPECT_DOUBLE_EQ(same.merge, 0.0);
  EXPECT_NEAR(infer::adapted_rand_error(torch::tensor({7, 7, 3, 3}), ref).error, 0.0, 1e-15);
  // Everything merged into one segment: H(ref | pred) = 1 bit, no split.
  infer::VoiResult merged = infer::variation_of_information(torch::tensor({5, 5, 5, 5}), ref);
  EXPECT_DOUBLE_EQ(merged.split, 0.0);
  EXPECT_DOUBLE_EQ(merged.merge, 1.0);
  // Each voxel its own segment: H(pred | ref) = 1 bit.
  EXPECT_DOUBLE_EQ(infer::variation_of_information(torch::tensor({1, 2, 3, 4}), ref).split, 1.0);
  // Reference background (0) is ignored; with no foreground left the result is NaN.
  EXPECT_DOUBLE_EQ(infer::variation_of_information(torch::tensor({1, 2, 3, 3}), torch::tensor({0, 0, 2, 2})).split,
                   0.0);
  EXPECT_TRUE(std::isnan(infer::adapted_rand_error(ref, torch::zeros({4}, torch::kInt64)).error));
  EXPECT_THROW_MSG(infer::variation_of_information(torch::zeros({4}), ref),
                   "variation_of_information: prediction labels must have an integer dtype, got Float");
}

}  // namespace
}  // namespace gtgm
