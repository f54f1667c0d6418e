// `gtgm score` / infer::run_score: case matching, summary.json, geometry and matching errors, the
// CREMI metrics from HDF5, and the real binary end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/infer/instance_metrics.h"
#include "gtgm/infer/metrics.h"
#include "gtgm/infer/score.h"
#include "gtgm/io/hdf5_io.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

io::Volume label_volume(const torch::Tensor& labels, std::array<double, 3> spacing = {0.8, 0.9, 2.0}) {
  io::Volume v;
  v.data = labels.to(torch::kUInt8).unsqueeze(0);
  v.geometry.spacing = spacing;
  v.geometry.origin = {10.0, -5.0, 3.0};
  return v;
}

// Two cases of ellipsoid-ish labels 1 and 2, prediction shifted by one voxel.
struct Dataset {
  test::TempDir dir;
  fs::path pred, ref;
  std::vector<torch::Tensor> p, r;
  Dataset() : pred(dir / "pred"), ref(dir / "ref") {
    fs::create_directories(pred);
    fs::create_directories(ref);
    for (int i = 0; i < 2; ++i) {
      torch::Tensor lab = torch::zeros({8, 10, 12}, torch::kInt64);
      using torch::indexing::Slice;
      lab.index_put_({Slice(1, 6), Slice(2, 7 + i), Slice(1, 8)}, 1);
      lab.index_put_({Slice(3, 7), Slice(4, 9), Slice(6, 11 - i)}, 2);
      torch::Tensor pr = lab.roll({1}, {2 - i});
      if (i == 1) pr.masked_fill_(pr.eq(2), 0);  // class 2 missed in case 1
      r.push_back(lab);
      p.push_back(pr);
      const std::string id = fmt::format("case_{:03d}", i);
      io::write_volume(label_volume(lab), ref / (id + ".nii.gz"));
      io::write_volume(label_volume(pr), pred / (id + ".nii.gz"));
    }
  }
};

TEST(EvalScore, FoldersMatchedByCaseIdWithSummaryJson) {
  Dataset d;
  test::write_file(d.pred / "plans.json", "{}");  // non-volume files are ignored
  infer::ScoreOptions opt;
  opt.pred = d.pred;
  opt.ref = d.ref;
  opt.metrics = {"dice", "hd95", "nsd"};
  opt.nsd_tolerance = 1.0;
  infer::ScoreSummary s = infer::run_score(opt);
  ASSERT_EQ(s.cases.size(), 2u);
  EXPECT_EQ(s.cases[0].files.id, "case_000");
  EXPECT_EQ(s.labels, (std::vector<int64_t>{1, 2}));
  infer::SegmentationMetricOptions so;
  so.labels = {1, 2};
  so.metrics = opt.metrics;
  so.spacing_dhw = {2.0, 0.9, 0.8};
  for (int i = 0; i < 2; ++i) {
    auto want = infer::score_segmentation(d.p[i], d.r[i], so);
    for (int64_t l : so.labels)
      for (const auto& m : so.metrics)
        EXPECT_NEAR(s.cases[i].classes.at(l).at(m), want.at(l).at(m), 1e-5) << i << m << l;
  }
  EXPECT_DOUBLE_EQ(s.cases[1].classes.at(2).at("dice"), 0.0);
  const double mean1 = (s.cases[0].classes.at(1).at("dice") + s.cases[1].classes.at(1).at("dice")) / 2;
  EXPECT_NEAR(s.class_means.at(1).at("dice"), mean1, 1e-12);
  EXPECT_NEAR(s.mean.at("dice"), (mean1 + s.class_means.at(2).at("dice")) / 2, 1e-12);

  json j = json::parse(core::read_text_file(d.pred / "summary.json"));
  EXPECT_EQ(j.at("cases").size(), 2u);
  EXPECT_NEAR(j.at("cases")[0].at("classes").at("1").at("hd95").get<double>(), s.cases[0].classes.at(1).at("hd95"),
              1e-12);
  EXPECT_NEAR(j.at("mean").at("nsd").get<double>(), s.mean.at("nsd"), 1e-12);
  EXPECT_EQ(j.at("labels"), json({1, 2}));
  const std::string table = infer::format_score_table(s);
  EXPECT_NE(table.find("dice[2]"), std::string::npos);
  EXPECT_NE(table.find("mean over classes:"), std::string::npos);
}

TEST(EvalScore, AbsentClassIsNanAndLeftOutOfMeans) {
  Dataset d;
  infer::ScoreOptions opt;
  opt.pred = d.pred;
  opt.ref = d.ref;
  opt.labels = {1, 7};  // 7 appears nowhere
  opt.output = d.dir / "out" / "s.json";
  infer::ScoreSummary s = infer::run_score(opt);
  EXPECT_TRUE(std::isnan(s.cases[0].classes.at(7).at("dice")));
  EXPECT_TRUE(std::isnan(s.class_means.at(7).at("dice")));
  EXPECT_NEAR(s.mean.at("dice"), s.class_means.at(1).at("dice"), 1e-12);
  json j = json::parse(core::read_text_file(opt.output));
  EXPECT_TRUE(j.at("cases")[0].at("classes").at("7").at("dice").is_null());
  opt.both_empty_as_perfect = true;
  s = infer::run_score(opt);
  EXPECT_DOUBLE_EQ(s.class_means.at(7).at("dice"), 1.0);
}

TEST(EvalScore, ClearErrorsForUnmatchedCasesAndGeometry) {
  Dataset d;
  infer::ScoreOptions opt;
  opt.pred = d.pred;
  opt.ref = d.ref;
  fs::rename(d.pred / "case_001.nii.gz", d.dir / "moved.nii.gz");
  EXPECT_THROW_MSG(infer::run_score(opt), "for 1 reference case(s) of " + d.ref.string() + ": case_001");
  io::write_volume(label_volume(d.p[1]), d.pred / "case_001.nii.gz");
  io::write_volume(label_volume(d.p[1]), d.pred / "case_002.nii.gz");
  EXPECT_THROW_MSG(infer::run_score(opt), "no reference in " + d.ref.string() + " for 1 predicted case(s)");
  fs::remove(d.pred / "case_002.nii.gz");
  io::write_volume(label_volume(d.p[1], {0.8, 0.9, 2.5}), d.pred / "case_001.nii.gz");
  EXPECT_THROW_MSG(infer::run_score(opt), "score: case 'case_001': prediction");
  EXPECT_THROW_MSG(infer::run_score(opt), "differ in geometry: spacing");
  opt.pred = d.pred / "case_000.nii.gz";
  EXPECT_THROW_MSG(infer::run_score(opt), "is a file but --ref " + d.ref.string() + " is a folder");
  opt.pred = d.pred;
  opt.metrics = {"dice", "iou"};
  EXPECT_THROW_MSG(infer::run_score(opt), "unknown metric 'iou' (valid: dice, hd95, nsd, voi, arand)");
}

TEST(EvalScore, CremiMetricsFromHdf5) {
  test::TempDir dir;
  torch::manual_seed(2);
  torch::Tensor ref = torch::randint(0, 4, {4, 6, 6}, torch::kInt64);
  torch::Tensor pred = ref.clone();
  pred.index_put_({0}, 9);
  io::CremiVolume truth;
  truth.raw.data = torch::zeros({1, 4, 6, 6}, torch::kUInt8);
  truth.raw.geometry.spacing = {4, 4, 40};
  truth.neuron_ids = truth.raw;
  truth.neuron_ids->data = ref.unsqueeze(0);
  io::write_cremi(dir / "truth.h5", truth);
  io::Volume out = *truth.neuron_ids;
  out.data = pred.unsqueeze(0);
  io::write_hdf5_volume(dir / "pred.h5", "volumes/labels/neuron_ids", out, {"uint64"});
  infer::ScoreOptions opt;
  opt.pred = dir / "pred.h5";
  opt.ref = dir / "truth.h5";
  opt.metrics = {"voi", "arand"};
  infer::ScoreSummary s = infer::run_score(opt);
  ASSERT_EQ(s.cases.size(), 1u);
  EXPECT_EQ(s.cases[0].files.id, "pred");
  infer::VoiResult voi = infer::variation_of_information(pred, ref);
  EXPECT_NEAR(s.cases[0].instance.at("voi_split"), voi.split, 1e-12);
  EXPECT_NEAR(s.cases[0].instance.at("voi_merge"), voi.merge, 1e-12);
  EXPECT_NEAR(s.mean.at("voi"), voi.total(), 1e-12);
  EXPECT_NEAR(s.mean.at("arand"), infer::adapted_rand_error(pred, ref).error, 1e-12);
  EXPECT_TRUE(fs::exists(dir / "summary.json"));
}

TEST(EvalScore, BinaryEndToEnd) {
  Dataset d;
  auto r = test::run_gtgm(fmt::format("score --pred {} --ref {} --labels 1,2 --metrics dice,hd95 --log-level warn",
                                      d.pred.string(), d.ref.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("case_001"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hd95[2]"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(d.pred / "summary.json"));
  fs::remove(d.ref / "case_000.nii.gz");
  r = test::run_gtgm(fmt::format("score --pred {} --ref {}", d.pred.string(), d.ref.string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no reference in"), std::string::npos) << r.output;
  r = test::run_gtgm(fmt::format("score --pred {} --ref {} --metrics jaccard", d.pred.string(), d.ref.string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown metric 'jaccard'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace gtgm
