// Round trips through every format read_volume/write_volume support, with a non-identity
// (oblique, det -1) direction and anisotropic spacing, plus DICOM series sorting.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "gtgm/core/atomic_file.h"
#include "gtgm/io/checks.h"
#include "gtgm/io/dicom_io.h"
#include "gtgm/io/io_info.h"
#include "gtgm/io/volume_io.h"
#include "io_test_util.h"
#include "test_util.h"

namespace fs = std::filesystem;
using gtgm::io::Volume;

namespace {

void expect_geometry_near(const gtgm::io::Geometry& a, const gtgm::io::Geometry& b, double tol) {
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(a.spacing[i], b.spacing[i], tol * std::max(1.0, std::abs(b.spacing[i]))) << "spacing " << i;
    EXPECT_NEAR(a.origin[i], b.origin[i], tol * std::max(1.0, std::abs(b.origin[i]))) << "origin " << i;
  }
  for (size_t i = 0; i < 9; ++i) EXPECT_NEAR(a.direction[i], b.direction[i], tol) << "direction " << i;
}

struct RoundTripCase {
  std::string ext;
  torch::ScalarType dtype;
  int64_t channels;
  double geometry_tol;  // NIfTI stores float32 geometry; the text formats keep ~15 digits
};

class VolumeRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(VolumeRoundTrip, KeepsVoxelsDtypeAndGeometry) {
  const auto& p = GetParam();
  gtgm::test::TempDir dir;
  const auto v = gtgm::test::ramp_volume(p.dtype, p.channels);
  const auto path = dir / ("vol" + p.ext);
  gtgm::io::write_volume(v, path);
  const auto header = gtgm::io::read_volume_header(path);
  EXPECT_EQ(header.channels, p.channels);
  EXPECT_EQ(header.shape, (std::array<int64_t, 3>{4, 5, 6}));
  const auto r = gtgm::io::read_volume(path);
  ASSERT_EQ(r.data.sizes(), v.data.sizes());
  EXPECT_EQ(r.data.scalar_type(), p.dtype) << p.ext;
  EXPECT_TRUE(torch::equal(r.data, v.data)) << p.ext;
  EXPECT_EQ(r.source, path.string());
  expect_geometry_near(r.geometry, v.geometry, p.geometry_tol);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, VolumeRoundTrip,
    ::testing::Values(RoundTripCase{".nii.gz", torch::kShort, 1, 1e-6}, RoundTripCase{".nii", torch::kFloat, 1, 1e-6},
                      RoundTripCase{".nii.gz", torch::kByte, 3, 1e-6}, RoundTripCase{".nii.gz", torch::kLong, 1, 1e-6},
                      RoundTripCase{".nrrd", torch::kShort, 1, 1e-12}, RoundTripCase{".nrrd", torch::kDouble, 2, 1e-12},
                      RoundTripCase{".nhdr", torch::kChar, 1, 1e-12}, RoundTripCase{".mha", torch::kFloat, 1, 1e-9},
                      RoundTripCase{".mha", torch::kInt, 2, 1e-9}, RoundTripCase{".mhd", torch::kByte, 1, 1e-9}),
    [](const ::testing::TestParamInfo<RoundTripCase>& info) {
      std::string ext = info.param.ext.substr(1);
      std::replace(ext.begin(), ext.end(), '.', '_');
      return ext + "_" + gtgm::io::dtype_name(info.param.dtype) + "_c" + std::to_string(info.param.channels);
    });

TEST(VolumeIo, Uint16IsWidenedAndWrittenBackAsUint16) {
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kInt);
  v.data = v.data * 500;  // up to 59500: needs uint16, not int16
  v.stored_dtype = "uint16";
  gtgm::io::write_volume(v, dir / "u16.nrrd");
  EXPECT_EQ(gtgm::io::read_volume_header(dir / "u16.nrrd").stored_dtype, "uint16");
  const auto r = gtgm::io::read_volume(dir / "u16.nrrd");
  EXPECT_EQ(r.stored_dtype, "uint16");
  EXPECT_EQ(r.data.scalar_type(), torch::kInt);
  EXPECT_TRUE(torch::equal(r.data, v.data));
  EXPECT_EQ(r.data.max().item<int>(), 59500);
}

TEST(VolumeIo, ExplicitDtypeConvertsAndChecksRange) {
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kFloat);
  gtgm::io::WriteOptions wo;
  wo.dtype = "int16";
  gtgm::io::write_volume(v, dir / "a.nii.gz", wo);
  const auto r = gtgm::io::read_volume(dir / "a.nii.gz");
  EXPECT_EQ(r.data.scalar_type(), torch::kShort);
  EXPECT_TRUE(torch::equal(r.data, v.data.round().to(torch::kShort)));
  wo.dtype = "uint8";
  EXPECT_THROW_MSG(gtgm::io::write_volume(v, dir / "b.nii.gz", wo), "do not fit the voxel type uint8");
}

TEST(VolumeIo, TiffStackKeepsVoxelsAndRefusesGeometryItCannotStore) {
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kByte);
  EXPECT_THROW_MSG(gtgm::io::write_volume(v, dir / "a.tif"), "TIFF cannot store origin");
  v.geometry = gtgm::io::Geometry{};
  v.geometry.spacing = {0.5, 0.5, 1.0};
  gtgm::io::write_volume(v, dir / "a.tif");
  const auto r = gtgm::io::read_volume(dir / "a.tif");
  EXPECT_EQ(r.data.sizes(), v.data.sizes());
  EXPECT_TRUE(torch::equal(r.data, v.data));
  EXPECT_EQ(gtgm::io::read_volume_header(dir / "a.tif").format, "TIFF");
}

TEST(VolumeIo, WriteRejectsBadInput) {
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kFloat);
  EXPECT_THROW_MSG(gtgm::io::write_volume(v, dir / "a.png"), "unknown extension");
  EXPECT_THROW_MSG(gtgm::io::write_volume(v, dir / "a.dcm"), "use write_dicom_series");
  Volume flat = v;
  flat.data = v.data[0];
  EXPECT_THROW_MSG(gtgm::io::write_volume(flat, dir / "a.nii.gz"), "expected data [C, D, H, W]");
  Volume sheared = v;
  sheared.geometry.direction[1] = 0.3;
  EXPECT_THROW_MSG(gtgm::io::write_volume(sheared, dir / "a.nii.gz"), "is not orthonormal");
}

TEST(VolumeIo, ExtensionHelpers) {
  EXPECT_TRUE(gtgm::io::has_volume_extension("a/b/case_001.nii.gz"));
  EXPECT_TRUE(gtgm::io::has_volume_extension("X.MHA"));
  EXPECT_FALSE(gtgm::io::has_volume_extension("dataset.json"));
  EXPECT_EQ(gtgm::io::strip_volume_extension("a/case_001_0000.nii.gz"), "case_001_0000");
  EXPECT_EQ(gtgm::io::strip_volume_extension("sample_A.hdf"), "sample_A");
}

TEST(DicomSeries, SortsSlicesByPositionNotFileName) {
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kShort, 1, 5, 6, 7);
  v.geometry = gtgm::test::rotated_geometry();
  // File names in an order unrelated to position: slice_0000.dcm holds slice 3, ...
  gtgm::io::write_dicom_series(v, dir / "series", {3, 0, 4, 1, 2});
  const auto series = gtgm::io::list_dicom_series(dir / "series");
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].files.size(), 5u);
  const auto h = gtgm::io::read_volume_header(dir / "series");
  EXPECT_EQ(h.format, "DICOM series");
  ASSERT_EQ(h.files.size(), 5u);
  EXPECT_EQ(fs::path(h.files[0]).filename(), "slice_0003.dcm");
  EXPECT_EQ(fs::path(h.files[4]).filename(), "slice_0002.dcm");
  const auto r = gtgm::io::read_volume(dir / "series");
  EXPECT_EQ(r.data.scalar_type(), torch::kShort);
  EXPECT_TRUE(torch::equal(r.data, v.data));
  expect_geometry_near(r.geometry, v.geometry, 1e-6);
}

TEST(DicomSeries, Uint8AndUint16RoundTrip) {
  gtgm::test::TempDir dir;
  Volume a = gtgm::test::ramp_volume(torch::kByte);
  a.geometry = gtgm::test::rotated_geometry();
  gtgm::io::write_dicom_series(a, dir / "u8");
  EXPECT_TRUE(torch::equal(gtgm::io::read_volume(dir / "u8").data, a.data));
  Volume b = gtgm::test::ramp_volume(torch::kInt);
  b.data = b.data * 400;
  b.stored_dtype = "uint16";
  b.geometry = gtgm::test::rotated_geometry();
  gtgm::io::write_dicom_series(b, dir / "u16");
  const auto r = gtgm::io::read_volume(dir / "u16");
  EXPECT_EQ(r.stored_dtype, "uint16");
  EXPECT_TRUE(torch::equal(r.data, b.data));
}

TEST(DicomSeries, LeftHandedDirectionComesBackWithTheSliceAxisReversed) {
  // DICOM derives the slice normal as row x column, so a det -1 direction cannot be stored as
  // is: the series reads back with k reversed, which maps every voxel to the same position.
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kShort);  // oblique_geometry(): det -1
  gtgm::io::write_dicom_series(v, dir / "s");
  const auto r = gtgm::io::read_volume(dir / "s");
  EXPECT_TRUE(torch::equal(r.data, v.data.flip(1)));
  auto expected = v.geometry;
  for (int row = 0; row < 3; ++row) {
    expected.origin[static_cast<size_t>(row)] += v.geometry.dir(row, 2) * v.geometry.spacing[2] * 3;
    expected.direction[static_cast<size_t>(row * 3 + 2)] *= -1;
  }
  expect_geometry_near(r.geometry, expected, 1e-6);
}

TEST(DicomSeries, MissingSliceIsAnError) {
  gtgm::test::TempDir dir;
  gtgm::io::write_dicom_series(gtgm::test::ramp_volume(torch::kShort), dir / "s");
  fs::remove(dir / "s" / "slice_0001.dcm");
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "s"), "irregular slice spacing");
}

TEST(DicomSeries, SmallPositionJitterIsReadWithAWarningLargeIsRefused) {
  // #16: real MR series whose ImagePositionPatient is rounded (~1% of the spacing) were refused.
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kShort);
  v.geometry.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  v.geometry.origin = {0, 0, 10.25};
  v.geometry.spacing = {1, 1, 2.5};  // slice 2 lies at z = 15.25
  // Replaces the text of slice 2's z position by `z` (same length: the element length is kept).
  const auto series_with_slice2_at = [&](const std::string& name, const std::string& z) {
    gtgm::io::write_dicom_series(v, dir / name);
    const auto file = dir / name / "slice_0002.dcm";
    std::string bytes = gtgm::core::read_text_file(file);
    const auto at = bytes.find("\\15.25");
    EXPECT_NE(at, std::string::npos);
    EXPECT_EQ(z.size(), 5u);
    bytes.replace(at + 1, 5, z);
    gtgm::test::write_file(file, bytes);
  };
  series_with_slice2_at("jitter", "15.27");  // 0.02 mm of 2.5: 0.8%
  testing::internal::CaptureStderr();
  const auto r = gtgm::io::read_volume(dir / "jitter");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(torch::equal(r.data, v.data));
  EXPECT_NEAR(r.geometry.spacing[2], 2.5, 1e-9);
  EXPECT_NE(err.find("slice positions jitter by up to 0.02 mm"), std::string::npos) << err;
  series_with_slice2_at("gap", "16.25");  // 1 mm of 2.5: 40%, as a missing or foreign slice
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "gap"),
                   "mean spacing is 2.5 mm: a deviation of 1 mm (40.0%), above the "
                   "10% tolerated");
}

TEST(DicomSeries, SeveralSeriesNeedAUid) {
  gtgm::test::TempDir dir;
  gtgm::io::write_dicom_series(gtgm::test::ramp_volume(torch::kShort), dir / "a");
  Volume other = gtgm::test::ramp_volume(torch::kShort);
  other.geometry.origin[2] += 500;
  gtgm::io::write_dicom_series(other, dir / "b");
  fs::create_directories(dir / "mixed");
  for (const auto* sub : {"a", "b"}) {
    for (const auto& e : fs::directory_iterator(dir / sub))
      fs::copy_file(e.path(), dir / "mixed" / (std::string(sub) + e.path().filename().string()));
  }
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "mixed"), "folder holds 2 DICOM series");
  const auto series = gtgm::io::list_dicom_series(dir / "mixed");
  ASSERT_EQ(series.size(), 2u);
  gtgm::io::ReadOptions ro;
  ro.dicom_series_uid = series[1].uid;
  EXPECT_EQ(gtgm::io::read_volume(dir / "mixed", ro).shape()[0], 4);
}

TEST(DicomSeries, EmptyFolderIsAnError) {
  gtgm::test::TempDir dir;
  gtgm::test::write_file(dir / "notes.txt", "hello");
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir.path()), "folder holds no DICOM series");
}

TEST(VolumeInfo, DescribesShapeDtypeGeometryAndRange) {
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kShort, 2);
  gtgm::io::write_volume(v, dir / "a.nrrd");
  const auto text = gtgm::io::describe_volume(dir / "a.nrrd");
  EXPECT_NE(text.find("NRRD"), std::string::npos) << text;
  EXPECT_NE(text.find("int16"), std::string::npos) << text;
  EXPECT_NE(text.find("[C, D, H, W] = [2, 4, 5, 6]"), std::string::npos) << text;
  EXPECT_NE(text.find("0.75 x 1.25 x 3.5"), std::string::npos) << text;
  EXPECT_NE(text.find("(-100.5, 20.25, 33.125)"), std::string::npos) << text;
  EXPECT_NE(text.find("[-300, 1373]"), std::string::npos) << text;  // ramp * 7 - 300 over 240 voxels
}

}  // namespace
