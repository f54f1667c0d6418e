// infer::Predictor: a source volume is preprocessed with the training plan (reoriented, cropped,
// resampled), segmented, and its labels come back on the source file's grid with its geometry;
// probabilities, affinities + watershed, and the errors for a missing plan or wrong channels.
#include <gtest/gtest.h>

#include "gtgm/data/preprocess.h"
#include "gtgm/data/spatial.h"
#include "gtgm/infer/affinities.h"
#include "gtgm/infer/instance_metrics.h"
#include "gtgm/infer/metrics.h"
#include "gtgm/infer/predict.h"
#include "gtgm/infer/predictor.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;
using torch::indexing::Slice;

TEST(Predictor, LabelsOfASourceVolumeReturnToItsGridAndGeometry) {
  // Source: 14x22x18, spacing (x, y, z) = (0.8, 0.7, 1.5), axes flipped/permuted by the direction,
  // a nonzero body with two labelled blocks; the plan resamples to (D, H, W) spacing (3, 1, 1).
  io::Volume image, label;
  image.data = torch::zeros({1, 14, 22, 18});
  image.data.index_put_({0, Slice(2, 12), Slice(3, 20), Slice(2, 16)}, 1.0);
  label.data = torch::zeros({1, 14, 22, 18}, torch::kInt64);
  label.data.index_put_({0, Slice(3, 9), Slice(5, 12), Slice(4, 10)}, 1);
  label.data.index_put_({0, Slice(6, 11), Slice(12, 18), Slice(9, 15)}, 2);
  image.data += label.data.to(torch::kFloat);
  image.geometry.spacing = {0.8, 0.7, 1.5};
  image.geometry.origin = {10.0, -4.0, 7.5};
  image.geometry.direction = {0, -1, 0, 1, 0, 0, 0, 0, 1};
  label.geometry = image.geometry;

  data::Plan plan;
  plan.target_spacing = {3.0, 1.0, 1.0};
  data::NormalizationParams identity;
  identity.scheme = data::NormScheme::CT;
  plan.normalization = {identity};
  plan.labels = {1, 2};
  plan.fg_locations = 10;
  data::PreprocessedCase pc = data::preprocess_case(image, &label, plan, 1);
  ASSERT_NE(pc.image.sizes(), image.data.sizes()) << "the plan should crop and resample";

  // An oracle model that sees the whole cached image in one window and returns the cached label.
  torch::Tensor cached_label = pc.label[0];
  infer::ForwardFn oracle = [&cached_label](const torch::Tensor& x) {
    EXPECT_EQ(x.sizes().slice(2), cached_label.sizes());
    return torch::one_hot(cached_label, 3)
        .permute({3, 0, 1, 2})
        .unsqueeze(0)
        .to(torch::kFloat)
        .expand({x.size(0), 3, -1, -1, -1});
  };
  infer::SlidingWindowOptions o;
  o.patch_size = {pc.image.size(1), pc.image.size(2), pc.image.size(3)};
  const infer::Predictor predictor(oracle, {infer::PredictionKind::Segmentation, o}, plan);
  const infer::Prediction p = predictor.predict(image, /*probabilities=*/true);
  const io::Volume& pred = p.labels;
  // Probabilities on the network grid: softmax of the oracle's one-hot logits.
  ASSERT_EQ(p.probabilities.sizes(), (std::vector<int64_t>{3, pc.image.size(1), pc.image.size(2), pc.image.size(3)}));
  EXPECT_TRUE(torch::allclose(p.probabilities.sum(0), torch::ones_like(p.probabilities[0]), 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(p.probabilities.argmax(0), cached_label));
  // Without probabilities: the same labels.
  EXPECT_TRUE(torch::equal(predictor.predict(image).labels.data, pred.data));

  ASSERT_EQ(pred.data.sizes(), label.data.sizes());
  EXPECT_EQ(pred.geometry.spacing, image.geometry.spacing);
  EXPECT_EQ(pred.geometry.direction, image.geometry.direction);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(pred.geometry.origin[a], image.geometry.origin[a], 1e-9);
  // Exactly the cached label mapped back by nearest neighbour; the small blocks lose about one
  // voxel per side on the 3 mm / 1 mm round trip.
  EXPECT_TRUE(
      torch::equal(pred.data.to(torch::kInt64),
                   data::restore_to_source(pc.label, pc.header, data::RestoreInterp::Nearest).data.to(torch::kInt64)));
  for (int64_t l : {1, 2}) EXPECT_GT(infer::dice(pred.data[0].eq(l), label.data[0].eq(l)), 0.65) << "label " << l;
  EXPECT_EQ(pred.data.index({0, Slice(0, 2)}).sum().item<int64_t>(), 0) << "outside the crop is background";

  // Written in the source's format, the file carries the source geometry.
  test::TempDir dir;
  data::CacheEntry entry;
  entry.id = "case_3";
  entry.source_image = "/data/imagesTr/case_3_0000.nrrd,/data/imagesTr/case_3_0001.nrrd";
  EXPECT_EQ(infer::cached_prediction_path(dir.path(), entry), dir / "case_3.nrrd");
  entry.source_image = "";
  EXPECT_EQ(infer::cached_prediction_path(dir.path(), entry), dir / "case_3.nii.gz");
  const fs::path out = dir / "case_3.nii.gz";
  io::write_volume(pred, out);
  io::Volume back = io::read_volume(out);
  EXPECT_TRUE(torch::equal(back.data.to(torch::kInt64), pred.data.to(torch::kInt64)));
  for (int a = 0; a < 9; ++a) EXPECT_NEAR(back.geometry.direction[a], image.geometry.direction[a], 1e-6);
}

TEST(Predictor, RefusesASourceVolumeWithoutAPlanOrWithOtherChannels) {
  infer::SlidingWindowOptions o;
  o.patch_size = {4, 4, 4};
  const infer::ForwardFn net = [](const torch::Tensor& x) {
    return torch::zeros({x.size(0), 2, x.size(2), x.size(3), x.size(4)});
  };
  io::Volume two;
  two.data = torch::ones({2, 6, 6, 6});
  two.source = "/scans/brain_0001.nii.gz";
  EXPECT_THROW_MSG(infer::Predictor(net, {infer::PredictionKind::Segmentation, o}).predict(two),
                   "no preprocessing plan: a source volume (/scans/brain_0001.nii.gz) needs the plan");
  data::Plan plan;
  plan.normalization.resize(1);
  plan.normalization[0].scheme = data::NormScheme::CT;
  EXPECT_THROW_MSG(infer::Predictor(net, {infer::PredictionKind::Segmentation, o}, plan).predict(two),
                   "/scans/brain_0001.nii.gz has 2 channel(s) (shape [2, 6, 6, 6]), the network was trained on 1");
  EXPECT_THROW_MSG(
      infer::Predictor(net, {infer::PredictionKind::Segmentation, o}).segment(torch::ones({6, 6, 6}), {1, 1, 1}),
      "expected a preprocessed image [C, d, h, w], got [6, 6, 6]");
}

TEST(Predictor, AffinitiesBecomeInstancesThroughTheWatershed) {
  // Two touching neurons (ids 7 and 9) and background; a network that answers with the true
  // affinities as confident logits must give back the two instances (ids renumbered).
  torch::Tensor ids = torch::zeros({6, 10, 10}, torch::kInt64);
  ids.index_put_({Slice(), Slice(1, 9), Slice(1, 5)}, 7);
  ids.index_put_({Slice(), Slice(1, 9), Slice(5, 9)}, 9);
  const torch::Tensor logits = (infer::affinities_from_labels(ids).to(torch::kFloat) * 2 - 1) * 12;  // [3, D, H, W]
  infer::SlidingWindowOptions o;
  o.patch_size = {6, 10, 10};
  o.batch_size = 1;
  const infer::ForwardFn net = [&](const torch::Tensor& x) {
    return logits.unsqueeze(0).expand({x.size(0), -1, -1, -1, -1}).clone();  // a fresh output, as a network gives
  };
  infer::PredictorOptions po{infer::PredictionKind::Affinity, o, 0.5};
  torch::Tensor aff;
  const torch::Tensor seg = infer::Predictor(net, po).segment(torch::zeros({1, 6, 10, 10}), {1, 1, 1}, &aff);
  ASSERT_EQ(aff.sizes(), (std::vector<int64_t>{3, 6, 10, 10}));
  // One window: blending is exact up to rounding.
  EXPECT_TRUE(torch::allclose(aff, torch::sigmoid(logits), 1e-4, 1e-5))
      << (aff - torch::sigmoid(logits)).abs().max().item<float>();
  ASSERT_EQ(seg.sizes(), ids.sizes());
  EXPECT_NEAR(infer::variation_of_information(seg, ids, {0}).total(), 0.0, 1e-9);
  EXPECT_EQ(std::get<0>(at::_unique(seg.masked_select(ids.gt(0)))).numel(), 2);
}

}  // namespace
}  // namespace gtgm
