// HDF5: plain datasets, attributes, the CREMI layout, and a file written by h5py
// (scripts/reference/cremi_reference.py -> tests/data/io/cremi_h5py.hdf).
#include <gtest/gtest.h>

#include "gtgm/io/hdf5_io.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace {

const std::string kGolden = std::string(GTGM_TEST_DATA_DIR) + "/io/cremi_h5py.hdf";

TEST(Hdf5Io, DatasetRoundTripPerDtype) {
  gtgm::test::TempDir dir;
  const auto file = dir / "d.h5";
  struct Case {
    const char* dtype;
    torch::Tensor t;
  };
  const std::vector<Case> cases = {
      {"uint8", torch::arange(24).reshape({2, 3, 4}).to(torch::kByte)},
      {"int16", (torch::arange(24) * -100).reshape({4, 6}).to(torch::kShort)},
      {"uint16", (torch::arange(24) * 2700).to(torch::kInt)},
      {"int32", (torch::arange(24) - 12).to(torch::kInt)},
      {"uint32", (torch::arange(24) * 170000000).to(torch::kLong)},
      {"uint64", (torch::arange(24) * (int64_t(1) << 50)).to(torch::kLong)},
      {"float32", torch::linspace(-1, 1, 24)},
      {"float64", torch::linspace(-1e10, 1e10, 24, torch::kDouble)},
  };
  for (const auto& c : cases) {
    gtgm::io::Hdf5WriteOptions wo;
    wo.dtype = c.dtype;
    gtgm::io::write_hdf5_dataset(file, std::string("group/") + c.dtype, c.t, wo);
  }
  for (const auto& c : cases) {
    const auto name = std::string("group/") + c.dtype;
    EXPECT_EQ(gtgm::io::hdf5_dataset_info(file, name).stored_dtype, c.dtype);
    const auto r = gtgm::io::read_hdf5_dataset(file, name);
    EXPECT_EQ(r.scalar_type(), c.t.scalar_type()) << c.dtype;
    EXPECT_TRUE(torch::equal(r, c.t)) << c.dtype;
  }
  EXPECT_EQ(gtgm::io::list_hdf5_datasets(file).size(), cases.size());
  // Replacing a dataset keeps one copy.
  gtgm::io::write_hdf5_dataset(file, "group/uint8", torch::zeros({2}, torch::kByte));
  EXPECT_EQ(gtgm::io::read_hdf5_dataset(file, "group/uint8").numel(), 2);
}

TEST(Hdf5Io, AttributesRoundTrip) {
  gtgm::test::TempDir dir;
  const auto file = dir / "a.h5";
  gtgm::io::write_hdf5_dataset(file, "x", torch::ones({3}));
  gtgm::io::write_hdf5_attribute(file, "x", "resolution", {40, 4, 4});
  gtgm::io::write_hdf5_attribute(file, "x", "resolution", {30, 3, 3});  // replaced
  EXPECT_EQ(*gtgm::io::read_hdf5_attribute(file, "x", "resolution"), (std::vector<double>{30, 3, 3}));
  EXPECT_FALSE(gtgm::io::read_hdf5_attribute(file, "x", "absent").has_value());
}

TEST(Hdf5Io, CremiRoundTripKeepsUint64IdsAndResolution) {
  gtgm::test::TempDir dir;
  gtgm::io::CremiVolume c;
  c.raw.data = torch::arange(2 * 3 * 4).reshape({1, 2, 3, 4}).to(torch::kByte);
  c.raw.geometry.spacing = {4, 4, 40};  // (x, y, z) nm
  gtgm::io::Volume ids;
  ids.data = (torch::arange(24).reshape({1, 2, 3, 4}) + (int64_t(1) << 45)).to(torch::kLong);
  ids.geometry = c.raw.geometry;
  c.neuron_ids = ids;
  gtgm::io::write_cremi(dir / "s.hdf", c);
  EXPECT_EQ(gtgm::io::hdf5_dataset_info(dir / "s.hdf", "volumes/labels/neuron_ids").stored_dtype, "uint64");
  EXPECT_EQ(*gtgm::io::read_hdf5_attribute(dir / "s.hdf", "volumes/raw", "resolution"),
            (std::vector<double>{40, 4, 4}));
  const auto r = gtgm::io::read_cremi(dir / "s.hdf");
  EXPECT_TRUE(torch::equal(r.raw.data, c.raw.data));
  ASSERT_TRUE(r.neuron_ids.has_value());
  EXPECT_TRUE(torch::equal(r.neuron_ids->data, ids.data));
  EXPECT_EQ(r.raw.geometry.spacing, (std::array<double, 3>{4, 4, 40}));
  // read_volume on the file picks volumes/raw; FILE:DATASET picks another.
  EXPECT_TRUE(torch::equal(gtgm::io::read_volume(dir / "s.hdf").data, c.raw.data));
  EXPECT_TRUE(
      torch::equal(gtgm::io::read_volume((dir / "s.hdf").string() + ":volumes/labels/neuron_ids").data, ids.data));
}

TEST(Hdf5Io, WriteVolumeKeepsSpacingAndOrigin) {
  gtgm::test::TempDir dir;
  gtgm::io::Volume v;
  v.data = torch::randn({1, 3, 4, 5});
  v.geometry.spacing = {0.5, 0.75, 2.5};
  v.geometry.origin = {1.5, -2.25, 10};
  gtgm::io::write_volume(v, (dir / "v.h5").string() + ":img");
  const auto r = gtgm::io::read_volume((dir / "v.h5").string() + ":img");
  EXPECT_TRUE(torch::equal(r.data, v.data));
  EXPECT_EQ(r.geometry.spacing, v.geometry.spacing);
  EXPECT_EQ(r.geometry.origin, v.geometry.origin);
  v.geometry.direction = {0, 1, 0, 1, 0, 0, 0, 0, -1};
  EXPECT_THROW_MSG(gtgm::io::write_volume(v, (dir / "w.h5").string()), "HDF5 volumes carry no direction");
}

TEST(Hdf5Io, ReadsFileWrittenByH5py) {
  const auto c = gtgm::io::read_cremi(kGolden);
  ASSERT_EQ(c.raw.data.sizes(), (std::vector<int64_t>{1, 3, 4, 5}));
  EXPECT_EQ(c.raw.data.scalar_type(), torch::kByte);
  for (int z = 0; z < 3; ++z)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x) EXPECT_EQ(c.raw.data[0][z][y][x].item<int>(), (z * 20 + y * 5 + x) * 3 % 256);
  EXPECT_EQ(c.raw.geometry.spacing, (std::array<double, 3>{4, 4, 40}));
  ASSERT_TRUE(c.neuron_ids.has_value());
  EXPECT_EQ(c.neuron_ids->stored_dtype, "uint64");
  EXPECT_EQ(c.neuron_ids->data[0][1][2][3].item<int64_t>(), (int64_t(1) << 40) + (7 + 6 + 3) / 4);
  EXPECT_EQ(c.neuron_ids->data[0][2][3][4].item<int64_t>(), int64_t(1) << 62);
  EXPECT_EQ(c.neuron_ids->geometry.origin, (std::array<double, 3>{4, 8, 80}));
  const auto f = gtgm::io::read_hdf5_dataset(kGolden, "extra/float");
  EXPECT_TRUE(torch::equal(f, torch::tensor({0.5f, -1.25f, 3.0f, 1e-3f, 2.5e6f, -0.0f}).reshape({2, 3})));
}

TEST(Hdf5Io, MissingDatasetListsThePresentOnes) {
  EXPECT_THROW_MSG(
      gtgm::io::read_hdf5_dataset(kGolden, "volumes/labels/clefts"),
      "cremi_h5py.hdf: dataset 'volumes/labels/clefts' not found (datasets present: extra/float, extra/huge_ids, "
      "volumes/labels/neuron_ids, volumes/raw)");
  EXPECT_THROW_MSG(gtgm::io::read_hdf5_dataset(kGolden, "nothing/here"), "dataset 'nothing/here' not found");
}

TEST(Hdf5Io, Uint64AboveInt64IsRefused) {
  EXPECT_THROW_MSG(gtgm::io::read_hdf5_dataset(kGolden, "extra/huge_ids"),
                   "cremi_h5py.hdf:extra/huge_ids: uint64 values >= 2^63 cannot be held as int64");
  gtgm::test::TempDir dir;
  EXPECT_THROW_MSG(
      gtgm::io::write_hdf5_dataset(dir / "x.h5", "ids", torch::full({2}, -1, torch::kLong), {"uint64", 0, {}}),
      "negative values cannot be stored as uint64");
}

TEST(Hdf5Io, SplitPath) {
  auto a = gtgm::io::split_hdf5_path("/d/sample_A.hdf:volumes/raw");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->first, "/d/sample_A.hdf");
  EXPECT_EQ(a->second, "volumes/raw");
  EXPECT_EQ(gtgm::io::split_hdf5_path("x.H5")->second, "");
  EXPECT_FALSE(gtgm::io::split_hdf5_path("x.nii.gz").has_value());
}

}  // namespace
