// Built-in NIfTI-1 I/O: parity with nibabel-written goldens, round trips, ITK agreement, bad files.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/io/nifti.h"
#include "gtgm/io/volume_io.h"
#include "io/nifti_patch.h"
#include "test_util.h"

#ifdef GTGM_WITH_ITK
#include <itkImage.h>
#include <itkImageFileReader.h>
#endif

namespace gtgm {
namespace fs = std::filesystem;
namespace {

const std::string kDir = std::string(GTGM_TEST_DATA_DIR) + "/nifti/";

io::Geometry oblique_geometry() {
  io::Geometry g;
  g.spacing = {0.7, 0.9, 3.0};
  g.origin = {-12.5, 40.25, 7.0};
  const double t = 0.4, c = std::cos(t), s = std::sin(t);
  // A rotation about y combined with a flip of the third axis (det = -1).
  g.direction = {c, 0, -s, 0, 1, 0, s, 0, c};
  g.direction[2] = -g.direction[2];
  g.direction[5] = -g.direction[5];
  g.direction[8] = -g.direction[8];
  return g;
}

void expect_geometry_near(const io::Geometry& a, const io::Geometry& b, double tol) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(a.spacing[i], b.spacing[i], tol * std::abs(b.spacing[i])) << "spacing " << i;
    EXPECT_NEAR(a.origin[i], b.origin[i], tol * (1 + std::abs(b.origin[i]))) << "origin " << i;
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(a.direction[i], b.direction[i], tol) << "direction " << i;
}

}  // namespace

TEST(Nifti, ReadsNibabelGoldensWithLpsGeometry) {
  std::ifstream in(kDir + "expected.json");
  const auto expected = nlohmann::json::parse(in);
  for (const auto& [name, e] : expected.items()) {
    SCOPED_TRACE(name);
    const io::Volume v = io::read_nifti(kDir + name + ".nii.gz");
    std::vector<int64_t> shape(v.data.sizes().begin(), v.data.sizes().end());
    EXPECT_EQ(shape, e["shape"].get<std::vector<int64_t>>());
    io::Geometry g;
    for (int i = 0; i < 3; ++i) {
      g.spacing[i] = e["spacing"][i];
      g.origin[i] = e["origin"][i];
    }
    for (int i = 0; i < 9; ++i) g.direction[i] = e["direction"][i];
    expect_geometry_near(v.geometry, g, 1e-5);
    const auto d = v.data.to(torch::kDouble);
    EXPECT_NEAR(d.sum().item<double>(), e["sum"].get<double>(), 1e-3 * (1 + std::abs(e["sum"].get<double>())));
    EXPECT_EQ(d.flatten()[0].item<double>(), e["first"].get<double>());
    EXPECT_EQ(d.flatten()[-1].item<double>(), e["last"].get<double>());
    const int64_t z = std::min<int64_t>(1, v.data.size(1) - 1), y = std::min<int64_t>(2, v.data.size(2) - 1),
                  x = std::min<int64_t>(3, v.data.size(3) - 1);
    EXPECT_EQ(d[0][z][y][x].item<double>(), e["at_0_1_2_3"].get<double>());
  }
  // uint16 values above 32767 survive (widened to int32).
  EXPECT_EQ(io::read_nifti(kDir + "uint16_labels.nii.gz").data.scalar_type(), torch::kInt);
}

TEST(Nifti, RoundTripKeepsDataDtypeAndGeometry) {
  test::TempDir dir;
  struct Case {
    torch::ScalarType dtype;
    std::vector<int64_t> shape;
    const char* file;
  };
  const std::vector<Case> cases = {{torch::kFloat, {1, 3, 4, 5}, "a.nii.gz"},
                                   {torch::kShort, {1, 2, 3, 4}, "b.nii"},
                                   {torch::kByte, {2, 3, 2, 2}, "c.nii.gz"},
                                   {torch::kLong, {1, 2, 2, 2}, "d.nii.gz"},
                                   {torch::kDouble, {1, 1, 2, 3}, "e.nii"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    io::Volume v;
    v.data = (torch::rand(c.shape) * 100).to(c.dtype);
    v.geometry = oblique_geometry();
    io::write_nifti(v, dir / c.file);
    const io::Volume back = io::read_nifti(dir / c.file);
    EXPECT_EQ(back.data.scalar_type(), c.dtype);
    EXPECT_TRUE(torch::equal(back.data, v.data));
    expect_geometry_near(back.geometry, v.geometry, 1e-6);
  }
}

#ifdef GTGM_WITH_ITK
TEST(Nifti, ItkReadsTheSameGeometry) {
  test::TempDir dir;
  io::Volume v;
  v.data = torch::arange(60, torch::kFloat).reshape({1, 3, 4, 5});
  v.geometry = oblique_geometry();
  io::write_nifti(v, dir / "x.nii.gz");
  using Image = itk::Image<float, 3>;
  auto reader = itk::ImageFileReader<Image>::New();
  reader->SetFileName((dir / "x.nii.gz").string());
  reader->Update();
  const auto img = reader->GetOutput();
  const auto size = img->GetLargestPossibleRegion().GetSize();
  EXPECT_EQ(size[0], 5u);
  EXPECT_EQ(size[2], 3u);
  io::Geometry g;
  for (int i = 0; i < 3; ++i) {
    g.spacing[i] = img->GetSpacing()[i];
    g.origin[i] = img->GetOrigin()[i];
    for (int j = 0; j < 3; ++j) g.direction[i * 3 + j] = img->GetDirection()[i][j];
  }
  expect_geometry_near(g, v.geometry, 1e-5);
  itk::Index<3> idx{{4, 1, 2}};  // x, y, z -> tensor [0, 2, 1, 4]
  EXPECT_EQ(img->GetPixel(idx), v.data[0][2][1][4].item<float>());
}
#endif

TEST(Nifti, BadFilesGiveClearErrors) {
  test::TempDir dir;
  EXPECT_THROW_MSG(io::read_nifti(dir / "missing.nii.gz"), "missing.nii.gz: no such file");
  test::write_file(dir / "short.nii", "tiny");
  EXPECT_THROW_MSG(io::read_nifti(dir / "short.nii"), "expected a 348-byte header, found 4 bytes");

  io::Volume v;
  v.data = torch::zeros({1, 4, 4, 4}, torch::kFloat);
  io::write_nifti(v, dir / "ok.nii");
  std::string bytes = core::read_text_file(dir / "ok.nii");
  test::write_file(dir / "trunc.nii", bytes.substr(0, bytes.size() - 10));
  EXPECT_THROW_MSG(io::read_nifti(dir / "trunc.nii"), "truncated: expected 256 bytes of voxel data after offset 352, found 246");
  std::string bad = bytes;
  bad[344] = 'x';
  test::write_file(dir / "magic.nii", bad);
  EXPECT_THROW_MSG(io::read_nifti(dir / "magic.nii"), "bad NIfTI magic");
  EXPECT_THROW_MSG(io::read_nifti(dir / "ok.nii", /*max_bytes=*/100),
                   "declared size 4x4x4x1 float32 needs 0.0 GiB, above the limit");
  std::string gz = core::read_text_file(kDir + "oblique_int16.nii.gz");
  gz.resize(gz.size() / 2);
  test::write_file(dir / "cut.nii.gz", gz);
  EXPECT_ANY_THROW(io::read_nifti(dir / "cut.nii.gz"));
}

TEST(Nifti, BadGeometryIsRefusedNamingTheFieldBeforeItkSeesIt) {
  // #16: a NaN in the sform made ITK's vnl abort the process (exit 134) in info, plan --check,
  // preprocess and score; pixdim 0 was reported as non-orthonormal direction cosines; pixdim 1e30
  // passed. Both readers (ITK's through read_volume, the built-in one) refuse them naming the field.
  test::TempDir dir;
  const fs::path good = kDir + "oblique_int16.nii.gz";  // qform_code = sform_code = 1
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  struct Case {
    std::string file;
    size_t offset;
    float value;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"srow_nan.nii.gz", test::nifti1::kSrowX, nan, "NIfTI-1 header field srow_x has NaN (srow_x[0], sform_code 1)"},
      {"srow_inf.nii", test::nifti1::kSrowX + 16 + 12, inf, "header field srow_y has Inf (srow_y[3], sform_code 1)"},
      {"quatern_inf.nii.gz", test::nifti1::kQuaternB, inf, "header field quatern_b is Inf (qform_code 1)"},
      {"pixdim0.nii.gz", test::nifti1::kPixdim + 4, 0.0f, "header field pixdim[1] = 0: voxel spacing must be > 0"},
      {"pixdim_nan.nii.gz", test::nifti1::kPixdim + 12, nan, "header field pixdim[3] is NaN"},
      {"pixdim_huge.nii.gz", test::nifti1::kPixdim + 8, 1e30f,
       "header field pixdim[2] = 1.0000000150474662e+30 mm is not a plausible spacing (expected at most 100000)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    test::patch_nifti(good, dir / c.file, c.offset, c.value);
    const std::string named = (dir / c.file).string() + ": ";
    EXPECT_THROW_MSG(io::read_nifti(dir / c.file), named);
    EXPECT_THROW_MSG(io::read_nifti(dir / c.file), c.expected);
#ifdef GTGM_WITH_ITK
    EXPECT_THROW_MSG(io::read_volume_header(dir / c.file), c.expected);
    EXPECT_THROW_MSG(io::read_volume(dir / c.file), c.expected);
#endif
  }
  // The same field with its code 0 is not used by any reader: not an error.
  test::patch_nifti(good, dir / "nocode.nii", test::nifti1::kSformCode, int16_t{0});
  test::patch_nifti(dir / "nocode.nii", dir / "nocode_nan.nii", test::nifti1::kSrowX, nan);
  EXPECT_NO_THROW(io::read_nifti(dir / "nocode_nan.nii"));
}

TEST(Nifti, Nifti2IsNamedAsUnsupportedNotCorrupt) {
  // #16: Debian's ITK 5.2 cannot read NIfTI-2 and called a valid file corrupt.
  test::TempDir dir;
  test::write_nifti2(dir / "two.nii.gz", 3, 4, 5);
  EXPECT_THROW_MSG(io::read_nifti(dir / "two.nii.gz"), "NIfTI-2 is not supported by the built-in reader");
#ifdef GTGM_WITH_ITK
  try {
    const auto v = io::read_volume(dir / "two.nii.gz");
    // An ITK build that reads NIfTI-2 is fine too, as long as it reads it right.
    EXPECT_EQ(v.data.sizes().vec(), (std::vector<int64_t>{1, 3, 4, 5}));
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NIfTI-2 is not supported by this ITK build"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
#endif
}

}  // namespace gtgm
