// Stand-ins for the 13 datasets of the paper's table (`gtgm synth --suite demo13`): the real tasks'
// channels, classes and dataset.json fields, CREMI A/B/C volumes, and same seed = same bytes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/data/manifest.h"
#include "gtgm/data/synth.h"
#include "gtgm/io/checks.h"
#include "gtgm/io/hdf5_io.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace fs = std::filesystem;
using gtgm::data::decathlon_task;

namespace {

gtgm::data::PhantomOptions tiny() {
  gtgm::data::PhantomOptions o;
  o.shape = {8, 24, 24};
  o.num_train = 2;
  o.num_test = 1;
  o.seed = 3;
  return o;
}

TEST(SynthDemo13, TasksHaveTheRealChannelsAndClasses) {
  // (task, channels, classes incl. background, modality of the phantom) as in PAPER.md / MSD.
  const std::vector<std::tuple<std::string, int, int, std::string>> table = {
      {"Task01_BrainTumour", 4, 4, "MRI"}, {"Task02_Heart", 1, 2, "MRI"},        {"Task03_Liver", 1, 3, "CT"},
      {"Task04_Hippocampus", 1, 3, "MRI"}, {"Task05_Prostate", 2, 3, "MRI"},     {"Task06_Lung", 1, 2, "CT"},
      {"Task07_Pancreas", 1, 3, "CT"},     {"Task08_HepaticVessel", 1, 3, "CT"}, {"Task09_Spleen", 1, 2, "CT"},
      {"Task10_Colon", 1, 2, "CT"}};
  ASSERT_EQ(gtgm::data::decathlon_tasks().size(), table.size());
  for (const auto& [name, channels, classes, modality] : table) {
    const auto& spec = decathlon_task(name);
    EXPECT_EQ(static_cast<int>(spec.channels.size()), channels) << name;
    EXPECT_EQ(static_cast<int>(spec.labels.size()), classes) << name;
    EXPECT_EQ(spec.modality, modality) << name;
    // Every class appears in a few cases (the labels are learnable, not empty).
    std::set<int64_t> seen;
    for (int64_t i = 0; i < 3; ++i) {
      const auto c = gtgm::data::make_decathlon_case(spec, tiny(), i);
      EXPECT_EQ(c.image.data.size(0), channels) << name;
      EXPECT_EQ(c.label.data.size(0), 1) << name;
      EXPECT_EQ(c.image.data.sizes().slice(1), c.label.data.sizes().slice(1)) << name;
      const auto v = std::get<0>(at::_unique(c.label.data.to(torch::kLong)));
      for (int64_t k = 0; k < v.numel(); ++k) seen.insert(v[k].item<int64_t>());
    }
    EXPECT_EQ(static_cast<int>(seen.size()), classes) << name;
    EXPECT_EQ(*seen.rbegin(), classes - 1) << name;
  }
  EXPECT_THROW_MSG(decathlon_task("Task11_Nothing"), "Task01_BrainTumour");
}

TEST(SynthDemo13, ExtraChannelsAreDifferentContrasts) {
  const auto c = gtgm::data::make_decathlon_case(decathlon_task("Task05_Prostate"), tiny(), 0);
  ASSERT_EQ(c.image.data.size(0), 2);
  const auto a = c.image.data[0].flatten(), b = c.image.data[1].flatten();
  EXPECT_FALSE(torch::allclose(a, b));
  const auto corr = torch::corrcoef(torch::stack({a, b})).abs()[0][1].item<double>();
  EXPECT_GT(corr, 0.2);    // the same anatomy
  EXPECT_LT(corr, 0.999);  // not a scaled copy
}

// Contrast of class k in channel ch of a case: (mean over class k - mean over background) / std,
// NaN where the case has no voxel of class k.
double synth_demo13_class_contrast(const gtgm::data::PhantomCase& c, int64_t ch, int64_t k) {
  const auto x = c.image.data[ch].to(torch::kDouble);
  const auto y = c.label.data[0].to(torch::kLong);
  if (!(y == k).any().item<bool>()) return std::nan("");
  return ((x.masked_select(y == k).mean() - x.masked_select(y == 0).mean()) / x.std()).item<double>();
}

TEST(SynthDemo13, EachChannelKeepsOneContrastAcrossCases) {
  // A channel is one MRI sequence (FLAIR, T2, ADC...): its tissue contrast is a property of the
  // task, the same in every case, only the noise differs. Drawn per case, a channel is bright
  // tumour in one case and dark in the next, and the multi-channel tasks cannot be learnt.
  auto o = tiny();
  o.shape = {12, 32, 32};
  for (const char* name : {"Task01_BrainTumour", "Task05_Prostate"}) {
    const auto& spec = decathlon_task(name);
    std::vector<gtgm::data::PhantomCase> cases;
    for (int64_t i = 0; i < 6; ++i) cases.push_back(gtgm::data::make_decathlon_case(spec, o, i));
    for (int64_t ch = 0; ch < static_cast<int64_t>(spec.channels.size()); ++ch) {
      for (int64_t k = 1; k < static_cast<int64_t>(spec.labels.size()); ++k) {
        std::vector<double> v;
        for (const auto& c : cases) {
          const double t = synth_demo13_class_contrast(c, ch, k);
          if (!std::isnan(t)) v.push_back(t);
        }
        ASSERT_GE(v.size(), 2u) << name << " class " << k;
        const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
        EXPECT_TRUE(*lo > 0 || *hi < 0) << name << " channel " << ch << " class " << k
                                        << ": brighter than background in some cases, darker in others (" << *lo
                                        << " .. " << *hi << ")";
        EXPECT_LT(*hi - *lo, 0.5 * std::max(std::abs(*lo), std::abs(*hi)) + 0.25)
            << name << " channel " << ch << " class " << k << ": contrast " << *lo << " .. " << *hi;
      }
    }
  }
}

TEST(SynthDemo13, FourDimensionalImagesReadBackAsWritten) {
  gtgm::test::TempDir dir;
  const auto& spec = decathlon_task("Task01_BrainTumour");
  gtgm::data::write_decathlon_task(dir / "t", spec, tiny());
  for (int64_t i : {0, 1}) {  // case 1 is stored with a flipped direction
    const auto c = gtgm::data::make_decathlon_case(spec, tiny(), i);
    const auto id = fmt::format("BRATS_{:03d}", i);
    const auto image = gtgm::io::read_volume(dir / "t/imagesTr" / (id + ".nii.gz"));
    const auto label = gtgm::io::read_volume(dir / "t/labelsTr" / (id + ".nii.gz"));
    ASSERT_EQ(image.data.sizes(), c.image.data.sizes());
    EXPECT_TRUE(torch::allclose(image.data.to(torch::kFloat), c.image.data.to(torch::kFloat))) << id;
    EXPECT_TRUE(torch::equal(label.data.to(torch::kLong), c.label.data.to(torch::kLong))) << id;
    EXPECT_EQ(gtgm::io::geometry_mismatch(image, label), "") << id;
  }
}

TEST(SynthDemo13, WritesMsdFoldersAndCremiVolumesDeterministically) {
  gtgm::test::TempDir dir;
  gtgm::data::Demo13Options o;
  o.out = dir / "a";
  o.only = {"Task01_BrainTumour", "Task09_Spleen", "CREMI_B"};
  o.phantom.shape = {8, 24, 24};
  o.phantom.num_train = 3;
  o.phantom.num_test = 1;
  o.em.shape = {6, 24, 24};
  o.em.num_cells = 6;
  const auto written = gtgm::data::write_demo13(o);
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[2], o.out / "cremi" / "B");

  const auto j = nlohmann::json::parse(gtgm::core::read_text_file(o.out / "Task01_BrainTumour" / "dataset.json"));
  for (const char* key : {"name", "description", "reference", "licence", "release", "tensorImageSize", "modality",
                          "labels", "numTraining", "numTest", "training", "test"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["tensorImageSize"], "4D");
  EXPECT_EQ(j["modality"], (nlohmann::json{{"0", "FLAIR"}, {"1", "T1w"}, {"2", "t1gd"}, {"3", "T2w"}}));
  EXPECT_EQ(j["labels"]["3"], "enhancing tumour");
  EXPECT_EQ(j["numTraining"], 3);
  EXPECT_EQ(j["training"][0]["image"], "./imagesTr/BRATS_000.nii.gz");
  EXPECT_EQ(j["test"][0], "./imagesTs/BRATS_003.nii.gz");

  // The real readers take them: a 4D NIfTI reads back as 4 channels, the manifest lists the cases.
  const auto m = gtgm::data::load_msd(o.out / "Task01_BrainTumour");
  EXPECT_EQ(m.channel_names, (std::vector<std::string>{"FLAIR", "T1w", "t1gd", "T2w"}));
  EXPECT_EQ(m.training.size(), 3u);
  EXPECT_EQ(gtgm::io::read_volume(o.out / "Task01_BrainTumour/imagesTr/BRATS_000.nii.gz").data.size(0), 4);
  const auto spleen = gtgm::data::load_msd(o.out / "Task09_Spleen");
  EXPECT_EQ(spleen.label_values(), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(gtgm::io::read_volume(o.out / "Task09_Spleen/imagesTr/spleen_001.nii.gz").stored_dtype, "int16");
  const auto em = gtgm::io::read_cremi(o.out / "cremi/B/sample_B.hdf");
  EXPECT_EQ(em.raw.data.sizes(), (std::vector<int64_t>{1, 6, 24, 24}));
  ASSERT_TRUE(em.neuron_ids.has_value());
  EXPECT_LT(em.neuron_ids->data.max().item<int64_t>(), int64_t{1} << 31);  // the label cache holds int32
  EXPECT_GE(std::get<0>(at::_unique(em.neuron_ids->data)).numel(), 3);
  EXPECT_FALSE(fs::exists(o.out / "Task02_Heart"));

  // Same seed, same bytes, whether written alone or with others.
  gtgm::data::Demo13Options o2 = o;
  o2.out = dir / "b";
  o2.only = {"Task09_Spleen"};
  gtgm::data::write_demo13(o2);
  for (const char* f : {"dataset.json", "imagesTr/spleen_000.nii.gz", "labelsTr/spleen_002.nii.gz"})
    EXPECT_EQ(gtgm::core::read_text_file(o.out / "Task09_Spleen" / f),
              gtgm::core::read_text_file(o2.out / "Task09_Spleen" / f))
        << f;
  // Another dataset of the suite is not a copy of it.
  EXPECT_NE(gtgm::core::read_text_file(o.out / "Task09_Spleen/imagesTr/spleen_000.nii.gz"),
            gtgm::core::read_text_file(o.out / "Task01_BrainTumour/labelsTr/BRATS_000.nii.gz"));

  gtgm::data::Demo13Options bad = o;
  bad.only = {"Task03_Livr"};
  EXPECT_THROW_MSG(gtgm::data::write_demo13(bad), "unknown dataset 'Task03_Livr'");
}

}  // namespace
