// Synthetic datasets: determinism by seed, anatomy that stays put under flipped directions,
// the real on-disk layouts (read back through the manifests and checks), and the CLI.
#include <gtest/gtest.h>

#include <filesystem>

#include "gtgm/core/atomic_file.h"
#include "gtgm/data/manifest.h"
#include "gtgm/data/synth.h"
#include "gtgm/io/checks.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

gtgm::data::PhantomOptions small(const std::string& modality) {
  gtgm::data::PhantomOptions o;
  o.modality = modality;
  o.shape = {12, 40, 40};
  o.seed = 5;
  o.num_train = 3;
  o.num_test = 1;
  return o;
}

// Physical (x, y) centroid of a mask [1, D, H, W] under the volume's geometry.
std::array<double, 2> centroid_xy(const gtgm::io::Volume& v, const torch::Tensor& mask) {
  const auto idx = mask[0].nonzero().to(torch::kDouble);  // [N, 3] (k, j, i)
  const auto mean = idx.mean(0);
  const double i = mean[2].item<double>(), j = mean[1].item<double>(), k = mean[0].item<double>();
  const auto& g = v.geometry;
  std::array<double, 2> out{};
  for (int r = 0; r < 2; ++r)
    out[static_cast<size_t>(r)] = g.origin[static_cast<size_t>(r)] + g.dir(r, 0) * g.spacing[0] * i +
                                  g.dir(r, 1) * g.spacing[1] * j + g.dir(r, 2) * g.spacing[2] * k;
  return out;
}

TEST(Synth, PhantomIsAFunctionOfSeedAndIndex) {
  const auto a = gtgm::data::make_phantom(small("CT"), 0);
  const auto b = gtgm::data::make_phantom(small("CT"), 0);
  EXPECT_TRUE(torch::equal(a.image.data, b.image.data));
  EXPECT_TRUE(torch::equal(a.label.data, b.label.data));
  const auto c = gtgm::data::make_phantom(small("CT"), 2);
  EXPECT_FALSE(torch::equal(a.label.data, c.label.data));
  auto other = small("CT");
  other.seed = 6;
  EXPECT_FALSE(torch::equal(gtgm::data::make_phantom(other, 0).image.data, a.image.data));
}

TEST(Synth, CtPhantomHasOrgansWithDistinctIntensities) {
  const auto p = gtgm::data::make_phantom(small("CT"), 0);
  EXPECT_EQ(p.image.data.sizes(), (std::vector<int64_t>{1, 12, 40, 40}));
  EXPECT_EQ(p.image.data.scalar_type(), torch::kShort);
  EXPECT_EQ(p.label.data.scalar_type(), torch::kByte);
  EXPECT_EQ(gtgm::io::geometry_mismatch(p.image, p.label), "");
  const auto values = gtgm::io::check_labels(p.label, {0, 1, 2, 3, 4});
  for (int64_t v : {0, 1, 2, 3}) EXPECT_NE(std::find(values.begin(), values.end(), v), values.end()) << v;
  const auto img = p.image.data.to(torch::kFloat);
  auto mean_of = [&](int64_t label) { return img.masked_select(p.label.data == label).mean().item<double>(); };
  EXPECT_NEAR(mean_of(1), 62, 12);  // liver
  EXPECT_NEAR(mean_of(3), 50, 12);  // spleen: close to liver, not trivial
  EXPECT_GT(mean_of(2), 110);       // contrast-enhanced kidney
  EXPECT_LT(mean_of(0), -300);      // mostly air
  // Anisotropic spacing: z is 2-3 times x.
  const auto& s = p.image.geometry.spacing;
  EXPECT_EQ(s[0], s[1]);
  EXPECT_GE(s[2] / s[0], 2.0);
  EXPECT_LE(s[2] / s[0], 3.0);
}

TEST(Synth, FlippedCasesKeepAnatomyInPhysicalSpace) {
  // Case 1 is stored with direction diag(-1, -1, 1); the spine (bone > 500 HU) must still be
  // posterior (+y in LPS) of the body centre and near the left-right midline.
  for (int64_t index : {0, 1}) {
    const auto p = gtgm::data::make_phantom(small("CT"), index);
    if (index == 1) EXPECT_EQ(p.image.geometry.direction, (std::array<double, 9>{-1, 0, 0, 0, -1, 0, 0, 0, 1}));
    const auto spine = centroid_xy(p.image, p.image.data > 500);
    const auto body = centroid_xy(p.image, p.image.data > -500);
    EXPECT_GT(spine[1] - body[1], 20.0) << "case " << index;
    EXPECT_LT(std::abs(spine[0] - body[0]), 15.0) << "case " << index;
    const auto liver = centroid_xy(p.image, p.label.data == 1);
    EXPECT_LT(liver[0], body[0]) << "liver on the patient's right (-x in LPS), case " << index;
  }
}

TEST(Synth, MriPhantomIsFloatWithPositiveMagnitudes) {
  const auto p = gtgm::data::make_phantom(small("MRI"), 0);
  EXPECT_EQ(p.image.data.scalar_type(), torch::kFloat);
  EXPECT_GE(p.image.data.min().item<float>(), 0.0f);
  const auto img = p.image.data;
  const double liver = img.masked_select(p.label.data == 1).mean().item<double>();
  const double kidney = img.masked_select(p.label.data == 2).mean().item<double>();
  EXPECT_GT(liver, kidney);  // T1-like contrast differs from CT
}

TEST(Synth, PhantomTaskIsAValidMsdFolderAndDeterministic) {
  gtgm::test::TempDir dir;
  gtgm::data::write_phantom_task(dir / "Task01", small("CT"));
  const auto m = gtgm::data::load_msd(dir / "Task01");
  EXPECT_EQ(m.name, "SynthCT");
  EXPECT_EQ(m.ids(), (std::vector<std::string>{"synthct_000", "synthct_001", "synthct_002"}));
  EXPECT_EQ(m.test.size(), 1u);
  EXPECT_EQ(m.label_values(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(gtgm::data::check_manifest(m).empty()) << gtgm::io::format_problems(gtgm::data::check_manifest(m));
  const auto first = gtgm::io::read_volume(m.training[1].images[0]);
  gtgm::data::write_phantom_task(dir / "Task01", small("CT"));  // replaces its own output
  EXPECT_TRUE(torch::equal(gtgm::io::read_volume(m.training[1].images[0]).data, first.data));
  // Never replaces a folder it did not write.
  gtgm::test::write_file(dir / "Mine/dataset.json", "{}");
  EXPECT_THROW_MSG(gtgm::data::write_phantom_task(dir / "Mine", small("CT")), "was not written by gtgm synth");
}

TEST(Synth, RerunKeepsFilesItDidNotWrite) {
  // #16: `synth --out` onto its own earlier output deleted files a user had put there.
  gtgm::test::TempDir dir;
  gtgm::data::write_phantom_task(dir / "Task01", small("CT"));
  gtgm::test::write_file(dir / "Task01/notes.txt", "mine");
  gtgm::test::write_file(dir / "Task01/gtgm_cache/plan.json", "{}");
  EXPECT_THROW_MSG(
      gtgm::data::write_phantom_task(dir / "Task01", small("CT")),
      "now also holds 2 file(s) it did not write (gtgm_cache/plan.json, notes.txt); refusing to replace it");
  EXPECT_EQ(gtgm::core::read_text_file(dir / "Task01/notes.txt"), "mine");
  EXPECT_TRUE(fs::exists(dir / "Task01/gtgm_cache/plan.json"));
  // Without the user's files it replaces its own output again, including cases a smaller run drops.
  fs::remove(dir / "Task01/notes.txt");
  fs::remove_all(dir / "Task01/gtgm_cache");
  auto fewer = small("CT");
  fewer.num_train = 1;
  gtgm::data::write_phantom_task(dir / "Task01", fewer);
  EXPECT_EQ(gtgm::data::load_msd(dir / "Task01").training.size(), 1u);
}

TEST(Synth, EmVolumeHasCellsAndDarkMembranes) {
  gtgm::data::EmOptions o;
  o.shape = {6, 48, 48};
  o.num_cells = 12;
  o.seed = 9;
  const auto v = gtgm::data::make_em_volume(o, 0);
  EXPECT_EQ(v.raw.data.scalar_type(), torch::kByte);
  EXPECT_EQ(v.raw.geometry.spacing, (std::array<double, 3>{4, 4, 40}));
  ASSERT_TRUE(v.neuron_ids.has_value());
  const auto ids = v.neuron_ids->data;
  const auto distinct = gtgm::io::label_values(*v.neuron_ids);
  EXPECT_GE(distinct.size(), 6u);
  EXPECT_LE(distinct.size(), 12u);
  EXPECT_GT(distinct.back(), int64_t(1) << 32);  // large ids, as in CREMI
  // Voxels whose x-neighbour belongs to another cell (boundaries) are darker than cell interiors.
  const auto boundary = ids.slice(3, 1) != ids.slice(3, 0, -1);
  const auto raw = v.raw.data.to(torch::kFloat).slice(3, 1);
  const double at_boundary = raw.masked_select(boundary).mean().item<double>();
  const double inside = raw.masked_select(~boundary).mean().item<double>();
  EXPECT_LT(at_boundary, inside - 40) << at_boundary << " vs " << inside;
  EXPECT_TRUE(torch::equal(gtgm::data::make_em_volume(o, 0).raw.data, v.raw.data));
}

TEST(Synth, EmDatasetIsCremiLayout) {
  gtgm::test::TempDir dir;
  gtgm::data::EmOptions o;
  o.num_volumes = 2;
  o.shape = {4, 32, 32};
  o.num_cells = 6;
  gtgm::data::write_em_dataset(dir / "em", o);
  const auto m = gtgm::data::load_cremi(dir / "em");
  EXPECT_EQ(m.ids(), (std::vector<std::string>{"sample_A", "sample_B"}));
  EXPECT_FALSE(m.training[0].label.empty());
  EXPECT_EQ(gtgm::io::hdf5_dataset_info(dir / "em/sample_A.hdf", "volumes/labels/neuron_ids").stored_dtype, "uint64");
  EXPECT_EQ(*gtgm::io::read_hdf5_attribute(dir / "em/sample_A.hdf", "volumes/raw", "resolution"),
            (std::vector<double>{40, 4, 4}));
  EXPECT_TRUE(gtgm::data::check_manifest(m).empty());
}

TEST(Synth, CommandWritesTheRequestedKinds) {
  gtgm::test::TempDir dir;
  const auto r = gtgm::test::run_gtgm("synth --out " + dir.path().string() +
                                      " --kind ct,em --cases 2 --test-cases 0 --shape 8,32,32 --em-volumes 1 "
                                      "--em-shape 4,32,32 --em-cells 5 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "Task01_SynthCT/dataset.json"));
  EXPECT_TRUE(fs::exists(dir / "Task01_SynthCT/labelsTr/synthct_001.nii.gz"));
  EXPECT_TRUE(fs::exists(dir / "cremi_synth/sample_A.hdf"));
  EXPECT_FALSE(fs::exists(dir / "Task02_SynthMRI"));
  const auto info =
      gtgm::test::run_gtgm("info --volume " + (dir / "Task01_SynthCT/imagesTr/synthct_001.nii.gz").string());
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("[C, D, H, W] = [1, 8, 32, 32]"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("orientation RAS"), std::string::npos) << info.output;  // flipped x, y
  const auto bad = gtgm::test::run_gtgm("synth --out " + dir.path().string() + " --kind pet");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  const auto missing = gtgm::test::run_gtgm("info --volume " + (dir / "nope.nii.gz").string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("nope.nii.gz: no such file or folder"), std::string::npos) << missing.output;
}

}  // namespace
