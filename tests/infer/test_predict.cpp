// Whole-volume prediction: geometry carried to the output, written in the input's format, EM
// instances through affinities to HDF5.
#include <gtest/gtest.h>

#include "gtgm/infer/affinities.h"
#include "gtgm/infer/instance_metrics.h"
#include "gtgm/infer/predict.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;

io::Geometry oblique() {
  io::Geometry g;
  g.spacing = {0.7, 0.9, 2.5};
  g.origin = {-12.5, 30.0, 4.0};
  g.direction = {0, 1, 0, -1, 0, 0, 0, 0, 1};  // 90 degrees about z
  return g;
}

TEST(EvalPredict, LabelsKeepGeometryAndRoundTripThroughTheInputFormat) {
  test::TempDir dir;
  torch::manual_seed(1);
  io::Volume image;
  image.data = torch::randn({1, 9, 11, 7});
  image.geometry = oblique();
  image.source = (dir / "case_7_0000.nii.gz").string();
  infer::SlidingWindowOptions o;
  o.patch_size = {4, 6, 4};
  infer::ForwardFn two_class = [](const torch::Tensor& x) { return torch::cat({x, -x}, 1); };
  io::Volume pred = infer::predict_labels(image, two_class, o);
  ASSERT_EQ(pred.data.sizes(), torch::IntArrayRef({1, 9, 11, 7}));
  EXPECT_TRUE(torch::equal(pred.data[0], image.data[0].lt(0).to(torch::kUInt8)));
  EXPECT_EQ(pred.geometry.direction, image.geometry.direction);

  const fs::path out = infer::prediction_path(dir / "pred", image.source);
  EXPECT_EQ(out, dir / "pred" / "case_7_0000.nii.gz");
  EXPECT_EQ(infer::prediction_path(dir.path(), "/x/em_a.h5"), dir / "em_a.h5");
  infer::write_prediction(pred, out);
  io::Volume back = io::read_volume(out);
  EXPECT_TRUE(torch::equal(back.data.to(torch::kUInt8), pred.data));
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(back.geometry.spacing[a], image.geometry.spacing[a], 1e-5);
    EXPECT_NEAR(back.geometry.origin[a], image.geometry.origin[a], 1e-4);
  }
  for (int a = 0; a < 9; ++a) EXPECT_NEAR(back.geometry.direction[a], image.geometry.direction[a], 1e-5);
}

TEST(EvalPredict, InstancesFromAffinityLogitsWrittenToHdf5) {
  test::TempDir dir;
  // Three slabs along W, each a neuron; the "model" derives affinity logits from the labels it is
  // shown (the image channel), one window covering the volume.
  torch::Tensor lab = (torch::arange(12).div(4, "floor").view({1, 1, 12}) + 1).expand({5, 6, 12}).contiguous();
  io::Volume image;
  image.data = lab.to(torch::kFloat).unsqueeze(0);
  image.geometry.spacing = {4, 4, 40};
  infer::SlidingWindowOptions o;
  o.patch_size = {5, 6, 12};
  infer::ForwardFn affinity_model = [](const torch::Tensor& x) {
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < x.size(0); ++i)
      out.push_back(infer::affinities_from_labels(x[i][0].round().to(torch::kInt64)) * 20.0 - 10.0);
    return torch::stack(out);
  };
  io::Volume inst = infer::predict_instances(image, affinity_model, o);
  ASSERT_EQ(inst.data.sizes(), torch::IntArrayRef({1, 5, 6, 12}));
  infer::VoiResult voi = infer::variation_of_information(inst.data[0], lab);
  EXPECT_NEAR(voi.total(), 0.0, 1e-12);
  EXPECT_EQ(inst.data.max().item<int64_t>(), 3);

  infer::write_prediction(inst, dir / "em.h5");
  io::Volume back = io::read_volume((dir / "em.h5").string() + ":volumes/labels/neuron_ids");
  EXPECT_TRUE(torch::equal(back.data.to(torch::kInt64), inst.data));
  EXPECT_NEAR(back.geometry.spacing[2], 40.0, 1e-9);

  infer::ForwardFn wrong = [](const torch::Tensor& x) { return torch::cat({x, x}, 1); };
  EXPECT_THROW_MSG(infer::predict_instances(image, wrong, o),
                   "an affinity model must return 3 channels (z, y, x), got 2");
}

}  // namespace
}  // namespace gtgm
