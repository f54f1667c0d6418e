// One test per bad input: each asserts that the message names the file, what was expected and
// what was found.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gtgm/io/checks.h"
#include "gtgm/io/hdf5_io.h"
#include "gtgm/io/volume_io.h"
#include "io_test_util.h"
#include "test_util.h"

namespace fs = std::filesystem;
using gtgm::io::Volume;

namespace {

Volume labels_from(const std::vector<float>& values, torch::ScalarType dtype, const std::string& source) {
  Volume v;
  v.data = torch::tensor(values).reshape({1, 1, 1, static_cast<int64_t>(values.size())}).to(dtype);
  v.source = source;
  return v;
}

void truncate_file(const fs::path& p, double keep) {
  const auto size = fs::file_size(p);
  fs::resize_file(p, static_cast<uintmax_t>(static_cast<double>(size) * keep));
}

TEST(IoChecks, MissingFile) {
  EXPECT_THROW_MSG(gtgm::io::read_volume("/nonexistent/case.nii.gz"),
                   "/nonexistent/case.nii.gz: no such file or folder (expected a volume file");
}

TEST(IoChecks, CorruptFileIsNotRecognised) {
  gtgm::test::TempDir dir;
  gtgm::test::write_file(dir / "case.nii.gz", std::string(2000, '\x37'));
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "case.nii.gz"),
                   "case.nii.gz: cannot read this file: no image reader "
                   "recognises it");
}

TEST(IoChecks, TruncatedCompressedNifti) {
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kFloat, 1, 20, 30, 40);
  v.data = torch::randn_like(v.data);  // incompressible enough that half the file is half the data
  gtgm::io::write_volume(v, dir / "t.nii.gz");
  truncate_file(dir / "t.nii.gz", 0.5);
  // The gzip trailer disagrees with the header's size, so the stream is decompressed and counted.
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "t.nii.gz"), "t.nii.gz: ");
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "t.nii.gz"), "truncated");
}

TEST(IoChecks, TruncatedRawNifti) {
  gtgm::test::TempDir dir;
  gtgm::io::write_volume(gtgm::test::ramp_volume(torch::kFloat, 1, 20, 30, 40), dir / "t.nii");
  truncate_file(dir / "t.nii", 0.5);
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "t.nii"),
                   "t.nii: truncated: the header declares 96352 bytes (header + voxels), the file has 48176");
}

TEST(IoChecks, TruncatedMetaImage) {
  gtgm::test::TempDir dir;
  gtgm::io::WriteOptions wo;
  wo.compress = false;
  gtgm::io::write_volume(gtgm::test::ramp_volume(torch::kShort, 1, 20, 30, 40), dir / "t.mha", wo);
  truncate_file(dir / "t.mha", 0.5);
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "t.mha"),
                   "t.mha: truncated: the header declares 48000 bytes of voxel data");
}

TEST(IoChecks, NonOrthonormalDirection) {
  gtgm::test::TempDir dir;
  // A sheared NRRD: the second axis leans 27 degrees towards the first.
  gtgm::test::write_file(dir / "sheared.nrrd",
                         "NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 2 2 2\n"
                         "space directions: (1,0,0) (0.5,1,0) (0,0,1)\nkinds: domain domain domain\n"
                         "endian: little\nencoding: raw\nspace origin: (0,0,0)\n\n" +
                             std::string(16, '\0'));
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "sheared.nrrd"), "sheared.nrrd: direction [[1, 0.447214, 0]");
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "sheared.nrrd"),
                   "is not orthonormal (expected unit, mutually orthogonal");
  gtgm::io::ReadOptions ro;
  ro.check_direction = false;
  EXPECT_EQ(gtgm::io::read_volume(dir / "sheared.nrrd", ro).data.numel(), 8);
}

TEST(IoChecks, HugeDeclaredSizeIsRefusedBeforeAllocating) {
  gtgm::test::TempDir dir;
  gtgm::test::write_file(dir / "huge.mha",
                         "ObjectType = Image\nNDims = 3\nDimSize = 100000 100000 100000\nElementType = MET_SHORT\n"
                         "ElementDataFile = LOCAL\n" +
                             std::string(64, '\0'));
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "huge.mha"),
                   "huge.mha: declared size [C, D, H, W] = [1, 100000, 100000, "
                   "100000] of int16 would need 1.86e+06 GiB, above the limit of 16 GiB");
  EXPECT_THROW_MSG(gtgm::io::read_volume_header(dir / "huge.mha"), "refused before allocating");
  // The limit is an option.
  gtgm::io::ReadOptions ro;
  ro.max_bytes = 100;
  gtgm::io::write_volume(gtgm::test::ramp_volume(torch::kFloat), dir / "small.nii.gz");
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "small.nii.gz", ro), "above the limit");
}

TEST(IoChecks, NaNVoxelsAreAnErrorByDefault) {
  gtgm::test::TempDir dir;
  Volume v = gtgm::test::ramp_volume(torch::kFloat);
  v.data[0][1][2][3] = std::numeric_limits<float>::quiet_NaN();
  v.data[0][3][0][0] = std::numeric_limits<float>::infinity();
  gtgm::io::write_volume(v, dir / "nan.nii.gz");
  EXPECT_THROW_MSG(
      gtgm::io::read_volume(dir / "nan.nii.gz"),
      "nan.nii.gz: 2 non-finite voxels (1 NaN, 1 Inf; first at [c, z, y, x] = [0, 1, 2, 3]); expected finite");
  gtgm::io::ReadOptions ro;
  ro.non_finite = gtgm::io::NonFinitePolicy::Zero;
  const auto z = gtgm::io::read_volume(dir / "nan.nii.gz", ro);
  EXPECT_EQ(z.data[0][1][2][3].item<float>(), 0.0f);
  EXPECT_TRUE(torch::isfinite(z.data).all().item<bool>());
  ro.non_finite = gtgm::io::NonFinitePolicy::Allow;
  EXPECT_TRUE(std::isnan(gtgm::io::read_volume(dir / "nan.nii.gz", ro).data[0][1][2][3].item<float>()));
}

TEST(IoChecks, GeometryMismatchBeyondToleranceOnly) {
  Volume image = gtgm::test::ramp_volume(torch::kFloat);
  image.source = "img.nii.gz";
  Volume label = gtgm::test::ramp_volume(torch::kByte);
  label.source = "lab.nii.gz";
  // 1e-8 relative noise (float32 headers, resampling) passes.
  label.geometry.spacing[0] *= 1 + 1e-8;
  label.geometry.origin[1] += 1e-8;
  label.geometry.direction[0] += 1e-8;
  EXPECT_NO_THROW(gtgm::io::check_same_geometry(image, label));
  label.geometry.spacing[2] = 3.6;
  EXPECT_THROW_MSG(gtgm::io::check_same_geometry(image, label),
                   "image img.nii.gz and label lab.nii.gz do not share a voxel grid: spacing (0.75, 1.25, 3.5) vs "
                   "(0.75, 1.25, 3.6)");
  label = gtgm::test::ramp_volume(torch::kByte);
  label.source = "lab.nii.gz";
  label.geometry.origin[0] += 0.5;
  EXPECT_THROW_MSG(gtgm::io::check_same_geometry(image, label),
                   "origin (-100.5, 20.25, 33.125) vs (-100, 20.25, 33.125)");
  label = gtgm::test::ramp_volume(torch::kByte, 1, 4, 5, 7);
  label.source = "lab.nii.gz";
  EXPECT_THROW_MSG(gtgm::io::check_same_geometry(image, label), "shape [D, H, W] [4, 5, 6] vs [4, 5, 7]");
  label = gtgm::test::ramp_volume(torch::kByte);
  label.geometry.direction = gtgm::io::Geometry{}.direction;
  EXPECT_THROW_MSG(gtgm::io::check_same_geometry(image, label), "direction [[0.866025, 0.5, 0]");
}

TEST(IoChecks, LabelsMustBeIntegers) {
  EXPECT_THROW_MSG(gtgm::io::check_labels(labels_from({0, 1, 0.5, 2}, torch::kFloat, "lab.nii.gz"), {0, 1, 2}),
                   "label lab.nii.gz: 1 voxels hold non-integer values (e.g. 0.5 at [c, z, y, x] = [0, 0, 0, 2]); "
                   "expected integer class ids");
  // Whole numbers stored as float are fine.
  EXPECT_EQ(gtgm::io::check_labels(labels_from({0, 2, 1, 2}, torch::kFloat, "f.nii.gz"), {0, 1, 2}),
            (std::vector<int64_t>{0, 1, 2}));
}

TEST(IoChecks, LabelsMustBeDeclared) {
  EXPECT_THROW_MSG(gtgm::io::check_labels(labels_from({0, 1, 3, 7, 3}, torch::kByte, "lab.nii.gz"), {0, 1, 2}),
                   "label lab.nii.gz: values {3, 7} are not among the declared labels {0, 1, 2}");
  EXPECT_EQ(gtgm::io::check_labels(labels_from({5, 900}, torch::kShort, "x"), {}), (std::vector<int64_t>{5, 900}));
}

TEST(IoChecks, ZeroTo255MaskHintsHowToFix) {
  EXPECT_THROW_MSG(gtgm::io::check_labels(labels_from({0, 255, 255, 0}, torch::kByte, "mask.nii.gz"), {0, 1}),
                   "label mask.nii.gz: values {0, 255} look like a 0/255 binary mask, but the declared labels are "
                   "{0, 1}; expected 0/1. Divide the mask by 255");
}

TEST(IoChecks, FourDFileWhereThreeDIsExpected) {
  gtgm::test::TempDir dir;
  gtgm::io::write_volume(gtgm::test::ramp_volume(torch::kByte, 2), dir / "lab4d.nii.gz");
  gtgm::io::ReadOptions ro;
  ro.require_3d = true;
  EXPECT_THROW_MSG(
      gtgm::io::read_volume(dir / "lab4d.nii.gz", ro),
      "lab4d.nii.gz: expected a 3D volume, found a 4D file with 2 channels (shape [C, D, H, W] = [2, 4, 5, 6])");
  EXPECT_THROW_MSG(gtgm::io::check_labels(gtgm::io::read_volume(dir / "lab4d.nii.gz"), {0}),
                   "label " + (dir / "lab4d.nii.gz").string() + ": expected a 3D volume, found 2 channels");
}

TEST(IoChecks, OrthonormalPredicate) {
  EXPECT_TRUE(gtgm::io::is_orthonormal(gtgm::test::oblique_geometry().direction));
  EXPECT_TRUE(gtgm::io::is_orthonormal({0, 1, 0, 0, 0, -1, -1, 0, 0}));
  EXPECT_FALSE(gtgm::io::is_orthonormal({2, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_FALSE(gtgm::io::is_orthonormal({1, 0.01, 0, 0, 1, 0, 0, 0, 1}));
}

TEST(IoChecks, CheckCasesReportsEveryProblem) {
  gtgm::test::TempDir dir;
  auto image = gtgm::test::ramp_volume(torch::kFloat);
  auto label = gtgm::test::ramp_volume(torch::kByte);
  label.data = label.data.remainder(3);
  gtgm::io::write_volume(image, dir / "good_img.nii.gz");
  gtgm::io::write_volume(label, dir / "good_lab.nii.gz");
  auto shifted = label;
  shifted.geometry.origin[2] += 2.0;
  gtgm::io::write_volume(shifted, dir / "shifted_lab.nii.gz");
  auto mask = label;
  mask.data = (label.data > 0).to(torch::kByte) * 255;
  gtgm::io::write_volume(mask, dir / "mask_lab.nii.gz");
  auto nan = image;
  nan.data = image.data.clone();  // copies of a Volume share the tensor
  nan.data[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  gtgm::io::write_volume(nan, dir / "nan_img.nii.gz");
  auto other_channel = image;
  other_channel.geometry.spacing[0] = 0.8;
  gtgm::io::write_volume(other_channel, dir / "chan1.nii.gz");

  const auto p = [&](const char* n) { return (dir / n).string(); };
  std::vector<gtgm::io::CaseFiles> cases = {
      {"good", {p("good_img.nii.gz")}, p("good_lab.nii.gz")},
      {"shifted", {p("good_img.nii.gz")}, p("shifted_lab.nii.gz")},
      {"mask", {p("good_img.nii.gz")}, p("mask_lab.nii.gz")},
      {"nan", {p("nan_img.nii.gz")}, p("good_lab.nii.gz")},
      {"missing", {p("nope.nii.gz")}, p("good_lab.nii.gz")},
      {"channels", {p("good_img.nii.gz"), p("chan1.nii.gz")}, ""},
  };
  gtgm::io::DatasetCheckOptions opts;
  opts.labels = {0, 1, 2};
  opts.num_threads = 2;
  const auto problems = gtgm::io::check_cases(cases, opts);
  ASSERT_EQ(problems.size(), 5u) << gtgm::io::format_problems(problems);
  EXPECT_EQ(problems[0].case_id, "shifted");
  EXPECT_NE(problems[0].message.find("do not share a voxel grid: origin"), std::string::npos);
  EXPECT_EQ(problems[1].case_id, "mask");
  EXPECT_NE(problems[1].message.find("0/255 binary mask"), std::string::npos);
  EXPECT_EQ(problems[2].case_id, "nan");
  EXPECT_NE(problems[2].message.find("1 non-finite voxels"), std::string::npos);
  EXPECT_EQ(problems[3].case_id, "missing");
  EXPECT_NE(problems[3].message.find("no such file"), std::string::npos);
  EXPECT_EQ(problems[4].case_id, "channels");
  EXPECT_NE(problems[4].message.find("channel files"), std::string::npos) << problems[4].message;
  const auto report = gtgm::io::format_problems(problems);
  EXPECT_NE(report.find("5 problem(s) in 5 case(s):"), std::string::npos) << report;
  EXPECT_NE(report.find("  [mask] label "), std::string::npos) << report;
}

TEST(IoChecks, NotAnHdf5File) {
  gtgm::test::TempDir dir;
  gtgm::test::write_file(dir / "x.hdf", "definitely not hdf5");
  EXPECT_THROW_MSG(gtgm::io::read_volume(dir / "x.hdf"), "x.hdf: not an HDF5 file (no HDF5 signature");
}

}  // namespace
