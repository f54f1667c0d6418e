// Predictions made on a preprocessed (reoriented, cropped, resampled) cache come back on the
// source file's grid with its geometry.
#include <gtest/gtest.h>

#include "gtgm/data/preprocess.h"
#include "gtgm/data/spatial.h"
#include "gtgm/infer/metrics.h"
#include "gtgm/infer/predict_cached.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;
using torch::indexing::Slice;

TEST(EvalPredictCached, LabelsReturnToTheSourceGridAndGeometry) {
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
  io::Volume pred = infer::predict_to_source(pc.image, pc.header, oracle, o);

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

}  // namespace
}  // namespace gtgm
