// Real public sample files (not written by gtgm), unpacked by scripts/fetch_test_data.sh into
// .deps/ (ctest passes GTGM_DEPS_DIR). Tests skip with a message when the files are absent.
//
// Expected values were computed once with /usr/bin/python3 (nibabel 4, pydicom 2.3):
//   nib.load(f).shape / .header.get_zooms() / .affine, np.asanyarray(img.dataobj)[i, j, k]
//   pydicom.dcmread(f).pixel_array, .PixelSpacing, .ImagePositionPatient, .RescaleIntercept
// nibabel indexes [i, j, k] = tensor [0, k, j, i]; its RAS affine maps to ITK's LPS by negating
// the first two rows.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "gtgm/io/checks.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

fs::path itk_example(const std::string& name) {
  return gtgm::test::deps_dir() / "insighttoolkit5-examples/usr/share/doc/insighttoolkit5-examples/examples/Data" /
         name;
}

#define REQUIRE_FILE(p)                                                                            \
  do {                                                                                             \
    if (!fs::exists(p)) GTEST_SKIP() << (p).string() << " absent: run scripts/fetch_test_data.sh"; \
  } while (0)

TEST(RealFiles, ItkKmeansImageAndLabels) {
  const auto image_path = itk_example("KmeansTest_T1UCharRaw.nii.gz");
  const auto label_path = itk_example("KmeansTest_T1KmeansPrelimSegmentation.nii.gz");
  REQUIRE_FILE(image_path);
  REQUIRE_FILE(label_path);
  const auto image = gtgm::io::read_volume(image_path);
  EXPECT_EQ(image.data.sizes(), (std::vector<int64_t>{1, 62, 128, 128}));
  EXPECT_EQ(image.data.scalar_type(), torch::kShort);
  EXPECT_EQ(image.stored_dtype, "int16");
  EXPECT_EQ(image.geometry.spacing, (std::array<double, 3>{2, 2, 3}));
  // nibabel affine rows (RAS): [-2 0 0 0], [0 0 3 -254], [0 2 0 0] -> LPS columns below.
  const std::array<double, 9> direction{1, 0, 0, 0, 0, -1, 0, 1, 0};
  for (size_t i = 0; i < 9; ++i) EXPECT_NEAR(image.geometry.direction[i], direction[i], 1e-6) << i;
  EXPECT_NEAR(image.geometry.origin[0], 0, 1e-4);
  EXPECT_NEAR(image.geometry.origin[1], 254, 1e-4);
  EXPECT_NEAR(image.geometry.origin[2], 0, 1e-4);
  EXPECT_EQ(image.data.min().item<int>(), 0);
  EXPECT_EQ(image.data.max().item<int>(), 255);
  EXPECT_EQ(image.data.sum().item<int64_t>(), 19533798);
  EXPECT_EQ(image.data[0][31][64][64].item<int>(), 97);  // nibabel a[64, 64, 31]

  gtgm::io::ReadOptions ro;
  ro.require_3d = true;
  const auto label = gtgm::io::read_volume(label_path, ro);
  EXPECT_EQ(label.data.sizes(), (std::vector<int64_t>{1, 62, 128, 128}));
  EXPECT_EQ(label.data.scalar_type(), torch::kByte);
  EXPECT_EQ(label.data.sum().item<int64_t>(), 1753763);
  EXPECT_EQ(label.data[0][30][20][10].item<int>(), 1);  // nibabel a[10, 20, 30]
  EXPECT_NO_THROW(gtgm::io::check_same_geometry(image, label));
  EXPECT_EQ(gtgm::io::check_labels(label, {0, 1, 2, 3, 4, 5, 6}), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_THROW_MSG(gtgm::io::check_labels(label, {0, 1, 2}), "values {3, 4, 5, 6} are not among the declared labels");

  // And the pair survives a round trip through another format.
  gtgm::test::TempDir dir;
  gtgm::io::write_volume(image, dir / "k.nrrd");
  const auto again = gtgm::io::read_volume(dir / "k.nrrd");
  EXPECT_TRUE(torch::equal(again.data, image.data));
  EXPECT_EQ(gtgm::io::geometry_mismatch(again, image, 1e-9), "");
}

TEST(RealFiles, PydicomCtSmall) {
  const auto path = gtgm::test::pydicom_file("CT_small.dcm");
  REQUIRE_FILE(path);
  const auto v = gtgm::io::read_volume(path);
  // pydicom: pixel_array (128, 128) int16, PixelSpacing [0.661468, 0.661468], RescaleIntercept -1024
  EXPECT_EQ(v.data.sizes(), (std::vector<int64_t>{1, 1, 128, 128}));
  // GDCM widens int16 to int32 after rescaling: int16 * 1 - 1024 may not fit int16.
  EXPECT_EQ(v.data.scalar_type(), torch::kInt);
  EXPECT_NEAR(v.geometry.spacing[0], 0.661468, 1e-6);
  EXPECT_NEAR(v.geometry.spacing[1], 0.661468, 1e-6);
  // ImagePositionPatient [-158.135803, -179.035797, -75.699997]
  EXPECT_NEAR(v.geometry.origin[0], -158.135803, 1e-5);
  EXPECT_NEAR(v.geometry.origin[1], -179.035797, 1e-5);
  EXPECT_NEAR(v.geometry.origin[2], -75.699997, 1e-5);
  // Hounsfield units = raw + intercept: raw min 128, max 2191, sum 14826310 over 16384 pixels.
  EXPECT_EQ(v.data.min().item<int>(), 128 - 1024);
  EXPECT_EQ(v.data.max().item<int>(), 2191 - 1024);
  EXPECT_EQ(v.data.sum().item<int64_t>(), 14826310 - 1024 * 16384);
  EXPECT_EQ(v.data[0][0][10][20].item<int>(), 185 - 1024);  // pixel_array[10, 20]

  // A folder holding just this file is a one-slice series with the same content.
  gtgm::test::TempDir dir;
  fs::copy_file(path, dir / "CT_small.dcm");
  const auto s = gtgm::io::read_volume(dir.path());
  EXPECT_TRUE(torch::equal(s.data, v.data));
  EXPECT_EQ(gtgm::io::read_volume_header(dir.path()).format, "DICOM");
}

TEST(RealFiles, PydicomMrSmall) {
  const auto path = gtgm::test::pydicom_file("MR_small.dcm");
  REQUIRE_FILE(path);
  const auto v = gtgm::io::read_volume(path);
  // pydicom: (64, 64) int16, PixelSpacing [0.3125, 0.3125], min 127, max 2145, sum 2125338
  EXPECT_EQ(v.data.sizes(), (std::vector<int64_t>{1, 1, 64, 64}));
  EXPECT_NEAR(v.geometry.spacing[0], 0.3125, 1e-9);
  EXPECT_EQ(v.data.sum().item<int64_t>(), 2125338);
  EXPECT_EQ(v.data[0][0][10][20].item<int>(), 316);
}

}  // namespace
