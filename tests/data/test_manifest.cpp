// Manifests of the four layouts, path-escape refusal, and every-problem-at-once reports.
#include <gtest/gtest.h>

#include <filesystem>

#include "gtgm/data/manifest.h"
#include "gtgm/io/hdf5_io.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

gtgm::io::Volume tiny(torch::ScalarType dtype, int64_t channels = 1, double value = 1) {
  gtgm::io::Volume v;
  v.data = torch::full({channels, 2, 3, 4}, value).to(dtype);
  v.geometry.spacing = {0.5, 0.5, 2.0};
  return v;
}

void write_msd(const fs::path& root, const std::string& json) {
  gtgm::test::write_file(root / "dataset.json", json);
  for (const auto* id : {"liver_1", "liver_0", "liver_2"}) {
    gtgm::io::write_volume(tiny(torch::kShort), root / "imagesTr" / (std::string(id) + ".nii.gz"));
    gtgm::io::write_volume(tiny(torch::kByte), root / "labelsTr" / (std::string(id) + ".nii.gz"));
  }
  gtgm::io::write_volume(tiny(torch::kShort), root / "imagesTs" / "liver_9.nii.gz");
}

const char* kMsdJson = R"({
  "name": "Liver", "modality": {"0": "CT"},
  "labels": {"0": "background", "1": "liver", "2": "cancer"},
  "numTraining": 3,
  "training": [
    {"image": "./imagesTr/liver_1.nii.gz", "label": "./labelsTr/liver_1.nii.gz"},
    {"image": "./imagesTr/liver_0.nii.gz", "label": "./labelsTr/liver_0.nii.gz"},
    {"image": "./imagesTr/liver_2.nii.gz", "label": "./labelsTr/liver_2.nii.gz"}],
  "test": ["./imagesTs/liver_9.nii.gz"]})";

TEST(Manifest, MsdDatasetJson) {
  gtgm::test::TempDir dir;
  write_msd(dir.path(), kMsdJson);
  const auto m = gtgm::data::load_msd(dir.path());
  EXPECT_EQ(m.name, "Liver");
  EXPECT_EQ(m.format, "msd");
  EXPECT_EQ(m.channel_names, std::vector<std::string>{"CT"});
  EXPECT_EQ(m.label_values(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(m.labels.at(2), "cancer");
  ASSERT_EQ(m.training.size(), 3u);
  EXPECT_EQ(m.ids(), (std::vector<std::string>{"liver_0", "liver_1", "liver_2"}));  // sorted
  EXPECT_EQ(m.training[0].images[0], (dir / "imagesTr/liver_0.nii.gz").string());
  EXPECT_EQ(m.training[0].label, (dir / "labelsTr/liver_0.nii.gz").string());
  ASSERT_EQ(m.test.size(), 1u);
  EXPECT_EQ(m.test[0].id, "liver_9");
  EXPECT_TRUE(m.test[0].label.empty());
  EXPECT_TRUE(gtgm::data::check_manifest(m).empty());
  EXPECT_EQ(gtgm::data::read_case_image(m.training[1]).data.sizes(), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(gtgm::data::read_case_label(m.training[1])->data.scalar_type(), torch::kByte);
  const auto picked = m.select({"liver_2", "liver_0"});
  EXPECT_EQ(picked[0].id, "liver_2");
  EXPECT_THROW_MSG(m.select({"liver_7"}), "no training case with id 'liver_7'");
}

TEST(Manifest, MsdMissingFilesAreAllReported) {
  gtgm::test::TempDir dir;
  write_msd(dir.path(), kMsdJson);
  fs::remove(dir / "imagesTr/liver_0.nii.gz");
  fs::remove(dir / "labelsTr/liver_2.nii.gz");
  EXPECT_THROW_MSG(gtgm::data::load_msd(dir.path()),
                   "2 listed file(s) do not exist: " + (dir / "imagesTr/liver_0.nii.gz").string() + ", " +
                       (dir / "labelsTr/liver_2.nii.gz").string());
}

TEST(Manifest, PathsMustStayInsideTheRoot) {
  gtgm::test::TempDir dir;
  gtgm::io::write_volume(tiny(torch::kShort), dir / "outside.nii.gz");
  const auto root = dir / "task";
  gtgm::test::write_file(root / "dataset.json",
                         R"({"labels": {"0": "bg"}, "training": [{"image": "./imagesTr/../../outside.nii.gz"}]})");
  EXPECT_THROW_MSG(gtgm::data::load_msd(root), "path './imagesTr/../../outside.nii.gz' resolves to " +
                                                   (dir / "outside.nii.gz").string() + ", outside the dataset root");
  gtgm::data::ManifestOptions o;
  o.allow_outside_root = true;
  EXPECT_EQ(gtgm::data::load_msd(root, o).training.at(0).images.at(0), (dir / "outside.nii.gz").string());
  EXPECT_THROW_MSG(gtgm::data::resolve_in_root("/data/task", "/etc/passwd", false, "x"), "outside the dataset root");
  EXPECT_EQ(gtgm::data::resolve_in_root("/data/task", "./a/../b.nii", false, "x"), fs::path("/data/task/b.nii"));
}

TEST(Manifest, MsdBadJsonAndFields) {
  gtgm::test::TempDir dir;
  gtgm::test::write_file(dir / "dataset.json", "{ not json");
  EXPECT_THROW_MSG(gtgm::data::load_msd(dir.path()), "dataset.json: invalid JSON");
  gtgm::test::write_file(dir / "dataset.json", R"({"labels": {"zero": "bg"}, "training": []})");
  EXPECT_THROW_MSG(gtgm::data::load_msd(dir.path()), "label key 'zero' is not an integer");
  gtgm::test::write_file(dir / "dataset.json", R"({"labels": {"0": "bg"}})");
  EXPECT_THROW_MSG(gtgm::data::load_msd(dir.path()), "expected a \"training\" list");
}

void write_nnunet(const fs::path& root) {
  gtgm::test::write_file(root / "dataset.json", R"({
    "channel_names": {"0": "T2", "1": "ADC"}, "labels": {"background": 0, "PZ": 1, "TZ": 2},
    "numTraining": 2, "file_ending": ".nii.gz"})");
  for (const auto* id : {"prostate_04", "prostate_00"}) {
    gtgm::io::write_volume(tiny(torch::kFloat, 1, 1), root / "imagesTr" / (std::string(id) + "_0000.nii.gz"));
    gtgm::io::write_volume(tiny(torch::kFloat, 1, 2), root / "imagesTr" / (std::string(id) + "_0001.nii.gz"));
    gtgm::io::write_volume(tiny(torch::kByte), root / "labelsTr" / (std::string(id) + ".nii.gz"));
  }
  gtgm::io::write_volume(tiny(torch::kFloat), root / "imagesTs" / "prostate_07_0000.nii.gz");
  gtgm::io::write_volume(tiny(torch::kFloat), root / "imagesTs" / "prostate_07_0001.nii.gz");
}

TEST(Manifest, NnunetRawLayout) {
  gtgm::test::TempDir dir;
  write_nnunet(dir.path());
  const auto m = gtgm::data::load_nnunet(dir.path());
  EXPECT_EQ(m.channel_names, (std::vector<std::string>{"T2", "ADC"}));
  EXPECT_EQ(m.labels.at(1), "PZ");
  EXPECT_EQ(m.file_ending, ".nii.gz");
  ASSERT_EQ(m.training.size(), 2u);
  EXPECT_EQ(m.training[0].id, "prostate_00");
  ASSERT_EQ(m.training[0].images.size(), 2u);
  EXPECT_EQ(fs::path(m.training[0].images[1]).filename(), "prostate_00_0001.nii.gz");
  EXPECT_EQ(fs::path(m.training[0].label).filename(), "prostate_00.nii.gz");
  ASSERT_EQ(m.test.size(), 1u);
  EXPECT_EQ(m.test[0].images.size(), 2u);
  // Channel files are concatenated along C.
  const auto img = gtgm::data::read_case_image(m.training[0]);
  EXPECT_EQ(img.data.sizes(), (std::vector<int64_t>{2, 2, 3, 4}));
  EXPECT_EQ(img.data[1][0][0][0].item<float>(), 2.0f);
  EXPECT_TRUE(gtgm::data::check_manifest(m).empty());
}

TEST(Manifest, NnunetLayoutProblemsAreAllReported) {
  gtgm::test::TempDir dir;
  write_nnunet(dir.path());
  fs::remove(dir / "imagesTr/prostate_04_0001.nii.gz");
  fs::remove(dir / "labelsTr/prostate_00.nii.gz");
  gtgm::io::write_volume(tiny(torch::kFloat), dir / "imagesTr/stray.nii.gz");
  try {
    gtgm::data::load_nnunet(dir.path());
    ADD_FAILURE() << "expected an error";
  } catch (const gtgm::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("3 problem(s) in the nnU-Net layout"), std::string::npos) << msg;
    EXPECT_NE(msg.find("stray.nii.gz is not named CASE_XXXX.nii.gz"), std::string::npos) << msg;
    EXPECT_NE(msg.find("case prostate_04 lacks channel file prostate_04_0001.nii.gz"), std::string::npos) << msg;
    EXPECT_NE(msg.find("case prostate_00 has no label"), std::string::npos) << msg;
  }
}

TEST(Manifest, NnunetRegionLabelsAreRefused) {
  gtgm::test::TempDir dir;
  gtgm::test::write_file(dir / "dataset.json",
                         R"({"channel_names": {"0": "T1"}, "labels": {"background": 0, "whole": [1, 2]}})");
  fs::create_directories(dir / "imagesTr");
  EXPECT_THROW_MSG(gtgm::data::load_nnunet(dir.path()), "label 'whole' maps to [1,2]; expected an integer");
}

TEST(Manifest, CremiFolderAndFileList) {
  gtgm::test::TempDir dir;
  gtgm::io::CremiVolume c;
  c.raw = tiny(torch::kByte);
  gtgm::io::Volume ids = tiny(torch::kLong, 1, 7);
  c.neuron_ids = ids;
  gtgm::io::write_cremi(dir / "em/sample_B.hdf", c);
  c.neuron_ids.reset();
  gtgm::io::write_cremi(dir / "em/sample_A.hdf", c);
  const auto m = gtgm::data::load_cremi(dir / "em");
  ASSERT_EQ(m.training.size(), 2u);
  EXPECT_EQ(m.training[0].id, "sample_A");
  EXPECT_EQ(m.training[0].images[0], (dir / "em/sample_A.hdf").string() + ":volumes/raw");
  EXPECT_TRUE(m.training[0].label.empty());  // no neuron_ids in A
  EXPECT_EQ(m.training[1].label, (dir / "em/sample_B.hdf").string() + ":volumes/labels/neuron_ids");
  EXPECT_TRUE(gtgm::data::check_manifest(m).empty());
  EXPECT_EQ(gtgm::data::read_case_label(m.training[1])->data[0][0][0][0].item<int64_t>(), 7);

  gtgm::test::write_file(dir / "em/list.txt", "# training volumes\nsample_B.hdf\n\n");
  const auto l = gtgm::data::load_cremi(dir / "em/list.txt");
  ASSERT_EQ(l.training.size(), 1u);
  EXPECT_EQ(l.training[0].id, "sample_B");
  gtgm::test::write_file(dir / "em/bad.txt", "../elsewhere.hdf\n");
  EXPECT_THROW_MSG(gtgm::data::load_cremi(dir / "em/bad.txt"), "outside the dataset root");
}

TEST(Manifest, GlobOfUnlabeledVolumes) {
  gtgm::test::TempDir dir;
  gtgm::io::write_volume(tiny(torch::kShort), dir / "a/s1.nii.gz");
  gtgm::io::write_volume(tiny(torch::kShort), dir / "a/b/s2.nii.gz");
  gtgm::io::write_volume(tiny(torch::kShort), dir / "s0.nrrd");
  gtgm::data::ManifestOptions o;
  const auto all = gtgm::data::load_glob(dir.path(), o);
  EXPECT_EQ(all.ids(), (std::vector<std::string>{"a/b/s2", "a/s1"}));
  o.pattern = "*.nrrd";
  EXPECT_EQ(gtgm::data::load_glob(dir.path(), o).ids(), (std::vector<std::string>{"s0"}));
  o.pattern = "a/*.nii.gz";
  EXPECT_EQ(gtgm::data::load_glob(dir.path(), o).ids(), (std::vector<std::string>{"a/s1"}));
  o.pattern = "*.mha";
  EXPECT_THROW_MSG(gtgm::data::load_glob(dir.path(), o), "no file matches the pattern '*.mha'");
}

TEST(Manifest, GlobMatch) {
  EXPECT_TRUE(gtgm::data::glob_match("**/*.nii.gz", "x.nii.gz"));
  EXPECT_TRUE(gtgm::data::glob_match("**/*.nii.gz", "a/b/x.nii.gz"));
  EXPECT_FALSE(gtgm::data::glob_match("*.nii.gz", "a/x.nii.gz"));
  EXPECT_TRUE(gtgm::data::glob_match("case_??.nrrd", "case_01.nrrd"));
  EXPECT_FALSE(gtgm::data::glob_match("case_??.nrrd", "case_001.nrrd"));
  EXPECT_TRUE(gtgm::data::glob_match("a/**/b/*.h5", "a/x/y/b/z.h5"));
}

TEST(Manifest, CheckManifestReportsEveryBadCase) {
  gtgm::test::TempDir dir;
  write_msd(dir.path(), kMsdJson);
  auto bad = tiny(torch::kByte, 1, 3);  // label 3 is not declared
  gtgm::io::write_volume(bad, dir / "labelsTr/liver_0.nii.gz");
  auto moved = tiny(torch::kByte);
  moved.geometry.origin = {0, 0, 5};
  gtgm::io::write_volume(moved, dir / "labelsTr/liver_2.nii.gz");
  const auto problems = gtgm::data::check_manifest(gtgm::data::load_msd(dir.path()));
  ASSERT_EQ(problems.size(), 2u) << gtgm::io::format_problems(problems);
  EXPECT_EQ(problems[0].case_id, "liver_0");
  EXPECT_NE(problems[0].message.find("values {3} are not among the declared labels {0, 1, 2}"), std::string::npos);
  EXPECT_EQ(problems[1].case_id, "liver_2");
  EXPECT_NE(problems[1].message.find("do not share a voxel grid"), std::string::npos);
}

TEST(Manifest, UnknownFormatIsAConfigError) {
  EXPECT_THROW_MSG(gtgm::data::load_manifest("decathlon", "/tmp"), "data.format 'decathlon' is unknown");
}

}  // namespace
