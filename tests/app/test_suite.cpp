// The eval suite runner with a fake fine-tuning runner (a test double that writes real prediction
// files and scores them with gtgm score): report contents, reuse and resume of runs, missing data,
// failing runs, overlays.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "gtgm/app/suite.h"
#include "gtgm/config/load.h"
#include "gtgm/config/suite_config.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/data/manifest.h"
#include "gtgm/data/synth.h"
#include "gtgm/infer/score.h"
#include "gtgm/io/png.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

// Records calls; "predicts" the reference for init gtgm and nothing for random init, then scores.
struct Fake {
  int calls = 0;
  std::vector<app::FinetuneOptions> options;
  std::string throw_for;               // "<dataset>/<init>" that throws
  bool interrupt = false;              // stop with a checkpoint instead of finishing
  std::set<int64_t> random_right_for;  // run.seed values for which random init predicts the reference too
  std::vector<std::string> ran;        // "<init> s<run.seed>" of each call

  app::FinetuneResult run(const config::Config& cfg, const app::FinetuneOptions& o) {
    ++calls;
    options.push_back(o);
    const fs::path dir = cfg.run.dir;
    const std::string ds = fs::path(cfg.data.root).filename().string();
    const std::string init = cfg.train.init.empty() ? "random" : "gtgm";
    ran.push_back(fmt::format("{} s{}", init, cfg.run.seed));
    if (throw_for == ds + "/" + init) GTGM_THROW("boom: {} ran out of memory", cfg.run.name);
    app::FinetuneResult r;
    r.run_dir = dir;
    if (interrupt) {
      gtgm::test::write_file(dir / "checkpoints/step_000001/meta.json", "{}");
      r.train.interrupted = true;
      r.train.stop_reason = "SIGTERM";
      r.train.step = 1;
      return r;
    }
    const auto m = data::load_manifest(cfg.data);
    const auto& c = m.training.back();  // the held-out case
    auto label = io::read_volume(c.label);
    fs::create_directories(dir / "predictions");
    fs::create_directories(dir / "refs");
    io::write_volume(label, dir / "refs" / (c.id + ".nii.gz"));
    if (init == "random" && random_right_for.count(cfg.run.seed) == 0) label.data.zero_();
    io::write_volume(label, dir / "predictions" / (c.id + ".nii.gz"));
    infer::ScoreOptions so;
    so.pred = dir / "predictions";
    so.ref = dir / "refs";
    const auto summary = infer::run_score(so);
    r.predictions_dir = dir / "predictions";
    r.summary_json = dir / "predictions/summary.json";
    r.mean_metrics = summary.mean;
    r.train_cases = static_cast<int64_t>(m.training.size()) - 1;
    r.test_cases = 1;
    r.init_report = init == "random" ? "random" : cfg.train.init + ": 3 tensors loaded";
    r.train.step = 5;
    return r;
  }
  app::FinetuneRunner runner() {
    return [this](const config::Config& c, const app::FinetuneOptions& o) { return run(c, o); };
  }
};

struct SuiteFixture {
  gtgm::test::TempDir dir;
  config::SuiteConfig suite;
  SuiteFixture() {
    data::PhantomOptions p;
    p.shape = {8, 24, 24};
    p.num_train = 3;
    p.num_test = 0;
    p.seed = 11;
    data::write_decathlon_task(dir / "data/Task09_Spleen", data::decathlon_task("Task09_Spleen"), p);
    data::write_decathlon_task(dir / "data/Task03_Liver", data::decathlon_task("Task03_Liver"), p);
    gtgm::test::write_file(dir / "pretrain/weights.safetensors", "x");
    gtgm::test::write_file(dir / "ft.yaml", "run:\n  device: cpu\ndata:\n  format: msd\n");
    const std::string yaml = fmt::format(R"(name: t3
output_dir: {0}/out
data_root: {0}/data
data_root_env: ""
overlay_cases: 1
inits: {{gtgm: {0}/pretrain, random: ""}}
datasets:
  - {{name: Task09_Spleen, config: ft.yaml, data: Task09_Spleen, metric: dice, paper: {{gtgm: [90.0]}}}}
  - {{name: Task06_Lung, config: ft.yaml, data: Task06_Lung, paper: {{gtgm: [80.19], random: [73.49]}}}}
  - {{name: Task03_Liver, config: ft.yaml, data: Task03_Liver}}
)",
                                         dir.path().string());
    suite = config::load_suite_config_string(yaml, "suite.yaml", dir.path());
  }
  fs::path out() const { return dir / "out"; }
};

const app::SuiteRow& row(const app::SuiteResult& r, const std::string& ds, const std::string& init) {
  for (const auto& x : r.rows)
    if (x.dataset == ds && x.init == init) return x;
  throw std::runtime_error("no row " + ds + " " + init);
}

TEST(Suite, ReportsOursBesidePaperAndKeepsGoing) {
  SuiteFixture f;
  Fake fake;
  fake.throw_for = "Task03_Liver/random";
  app::SuiteRunOptions o;
  o.runner = fake.runner();
  const auto r = app::run_suite(f.suite, o);
  ASSERT_EQ(r.rows.size(), 6u);
  EXPECT_EQ(fake.calls, 4);  // Lung has no data
  EXPECT_EQ(fake.options[0].pretrained, (f.dir / "pretrain").string());
  EXPECT_EQ(fake.options[1].pretrained, "");
  EXPECT_EQ(fake.options[0].resume, "");

  const auto& spleen = row(r, "Task09_Spleen", "gtgm");
  EXPECT_EQ(spleen.status, app::RowStatus::Done);
  EXPECT_DOUBLE_EQ(*spleen.ours, 100.0);
  EXPECT_DOUBLE_EQ(*spleen.paper, 90.0);
  EXPECT_EQ(spleen.train_cases, 2);
  EXPECT_DOUBLE_EQ(*row(r, "Task09_Spleen", "random").ours, 0.0);
  const auto& lung = row(r, "Task06_Lung", "random");
  EXPECT_EQ(lung.status, app::RowStatus::DataMissing);
  EXPECT_EQ(lung.message, "data missing: " + (f.dir / "data/Task06_Lung").lexically_normal().string());
  EXPECT_DOUBLE_EQ(*lung.paper, 73.49);
  const auto& liver = row(r, "Task03_Liver", "random");
  EXPECT_EQ(liver.status, app::RowStatus::Failed);
  EXPECT_NE(liver.message.find("boom: Task03_Liver-random-f1 ran out of memory"), std::string::npos) << liver.message;
  EXPECT_EQ(row(r, "Task03_Liver", "gtgm").status, app::RowStatus::Done);

  const std::string md = core::read_text_file(f.out() / "report.md");
  // The paper column sits beside ours computed the paper's way (Dice with background).
  EXPECT_NE(md.find("| Dataset | Metric | Labels | ours gtgm | ours random | ours gtgm, as paper | paper gtgm | ours "
                    "random, as paper | paper random | Δ gtgm | Δ random | Notes |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("Dice with the background class, MONAI DiceMetric(include_background=True)"), std::string::npos);
  // random init predicts nothing: foreground Dice 0, with background half the background Dice.
  const auto& spleen_random = row(r, "Task09_Spleen", "random");
  ASSERT_TRUE(spleen_random.ours_as_paper.has_value());
  EXPECT_GT(*spleen_random.ours_as_paper, 25.0);
  EXPECT_LT(*spleen_random.ours_as_paper, 50.0);
  EXPECT_DOUBLE_EQ(*spleen.ours_as_paper, 100.0);
  EXPECT_NE(
      md.find(fmt::format("| Task09_Spleen | Dice % | 100% | 100.00 | 0.00 | 100.00 | 90.00 | {:.2f} | - | +10.00 "
                          "| - |  |",
                          *spleen_random.ours_as_paper)),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("| Task06_Lung | Dice % | 100% | data missing | data missing | data missing | 80.19 | data missing "
                    "| 73.49 | - | - | data missing: "),
            std::string::npos)
      << md;
  EXPECT_NE(
      md.find("| Task03_Liver | Dice % | 100% | 100.00 | failed | 100.00 | - | failed | - | - | - | random: boom: "
              "Task03_Liver-random-f1 ran out of memory |"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("](overlays/Task09_Spleen/gtgm-f1_spleen_002.png)"), std::string::npos) << md;
  EXPECT_NE(md.find(r.table), std::string::npos);

  const std::string csv = core::read_text_file(f.out() / "report.csv");
  EXPECT_EQ(
      csv.rfind("dataset,metric,label_fraction,init,seed,status,ours,paper_metric,ours_as_paper,paper,delta,mean_dice,"
                "mean_dice_with_bg,",
                0),
      0u)
      << csv;
  EXPECT_NE(csv.find("\nTask09_Spleen,dice,1,gtgm,42,done,100,dice_with_bg,100,90,10,1,1,2,1,"), std::string::npos)
      << csv;
  EXPECT_NE(csv.find("\nTask06_Lung,dice,1,gtgm,0,data missing,,dice_with_bg,,80.19,,,,0,0,0.0,,data missing: "),
            std::string::npos)
      << csv;

  const auto j = nlohmann::json::parse(core::read_text_file(f.out() / "report.json"));
  EXPECT_EQ(j["schema"], "gtgm-eval-report/1");
  ASSERT_EQ(j["rows"].size(), 6u);
  EXPECT_EQ(j["rows"][0]["ours"], 100.0);
  EXPECT_EQ(j["rows"][0]["delta"], 10.0);
  EXPECT_EQ(j["rows"][0]["paper_metric"], "dice_with_bg");
  EXPECT_EQ(j["rows"][0]["ours_as_paper"], 100.0);
  EXPECT_EQ(j["rows"][0]["labels"], "100%");
  EXPECT_TRUE(j["rows"][1]["paper"].is_null());
  EXPECT_EQ(j["rows"][2]["status"], "data missing");
  EXPECT_EQ(j["overlays"]["Task09_Spleen"].size(), 2u);
  const std::string png = core::read_text_file(f.out() / "overlays/Task09_Spleen/random-f1_spleen_002.png");
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(Suite, ReusesFinishedRunsResumesInterruptedOnesRefusesOthers) {
  SuiteFixture f;
  f.suite.datasets.resize(1);  // spleen only
  Fake fake;
  app::SuiteRunOptions o;
  o.runner = fake.runner();
  o.overlays = false;
  const auto first = app::run_suite(f.suite, o);
  EXPECT_EQ(fake.calls, 2);
  const auto again = app::run_suite(f.suite, o);
  EXPECT_EQ(row(again, "Task09_Spleen", "gtgm").seconds, row(first, "Task09_Spleen", "gtgm").seconds);
  EXPECT_EQ(fake.calls, 2);  // not called again
  EXPECT_EQ(row(again, "Task09_Spleen", "gtgm").status, app::RowStatus::Reused);
  EXPECT_DOUBLE_EQ(*row(again, "Task09_Spleen", "gtgm").ours, 100.0);

  o.dry_run = true;
  EXPECT_EQ(row(app::run_suite(f.suite, o), "Task09_Spleen", "random").status, app::RowStatus::WouldReuse);
  o.dry_run = false;

  // Another config in the same run dir: refused with the differing key, nothing overwritten.
  auto changed = f.suite;
  changed.sets.push_back("run.threads=1");
  const auto refused = app::run_suite(changed, o);
  EXPECT_EQ(fake.calls, 2);
  EXPECT_EQ(row(refused, "Task09_Spleen", "gtgm").status, app::RowStatus::Failed);
  EXPECT_NE(row(refused, "Task09_Spleen", "gtgm")
                .message.find("holds a run of another config (1 key(s) differ: run.threads: 0 -> 1)"),
            std::string::npos)
      << row(refused, "Task09_Spleen", "gtgm").message;

  // Interrupted: the next invocation resumes the same run dir.
  changed.output_dir = (f.dir / "out2").string();
  fake.interrupt = true;
  const int calls = fake.calls;
  const auto stopped = app::run_suite(changed, o);
  EXPECT_EQ(fake.calls, calls + 1);  // the suite stops at the interrupted run
  EXPECT_EQ(row(stopped, "Task09_Spleen", "gtgm").status, app::RowStatus::Interrupted);
  EXPECT_NE(row(stopped, "Task09_Spleen", "gtgm").message.find("interrupted (SIGTERM) at step 1"), std::string::npos);
  EXPECT_EQ(row(stopped, "Task09_Spleen", "random").status, app::RowStatus::NotRun);
  EXPECT_TRUE(fs::exists(fs::path(changed.output_dir) / "report.md"));
  fake.interrupt = false;
  const auto resumed = app::run_suite(changed, o);
  EXPECT_EQ(row(resumed, "Task09_Spleen", "gtgm").status, app::RowStatus::Resumed);
  EXPECT_EQ(row(resumed, "Task09_Spleen", "random").status, app::RowStatus::Done);
  ASSERT_EQ(fake.calls, calls + 3);
  EXPECT_EQ(fake.options[static_cast<size_t>(calls + 1)].resume,
            app::run_dir(changed, "Task09_Spleen", "gtgm", 1.0).string());
  EXPECT_EQ(fake.options.back().resume, "");
}

// A run killed while writing its first checkpoint leaves only that write's temp folder under
// checkpoints/: the next invocation starts it afresh (resuming would fail: no usable checkpoint).
TEST(Suite, ARunKilledWhileWritingItsFirstCheckpointStartsAfresh) {
  SuiteFixture f;
  f.suite.datasets.resize(1);
  Fake fake;
  app::SuiteRunOptions o;
  o.runner = fake.runner();
  o.overlays = false;
  fake.interrupt = true;
  app::run_suite(f.suite, o);
  ASSERT_EQ(fake.calls, 1);
  const fs::path ckpt = app::run_dir(f.suite, "Task09_Spleen", "gtgm", 1.0) / "checkpoints";
  fs::remove_all(ckpt / "step_000001");
  fs::create_directories(ckpt / ".step_000002.tmpdir.4242.1");
  fake.interrupt = false;
  o.dry_run = true;
  EXPECT_EQ(row(app::run_suite(f.suite, o), "Task09_Spleen", "gtgm").status, app::RowStatus::WouldRun);
  o.dry_run = false;
  const auto again = app::run_suite(f.suite, o);
  EXPECT_EQ(row(again, "Task09_Spleen", "gtgm").status, app::RowStatus::Done);
  ASSERT_EQ(fake.calls, 3);
  EXPECT_EQ(fake.options[1].resume, "");
}

TEST(Suite, DryRunListsMissingDataAndWritesNothing) {
  SuiteFixture f;
  Fake fake;
  app::SuiteRunOptions o;
  o.runner = fake.runner();
  o.dry_run = true;
  o.only = {"Task06_Lung", "Task03_Liver"};
  const auto r = app::run_suite(f.suite, o);
  EXPECT_EQ(fake.calls, 0);
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.rows[0].status, app::RowStatus::DataMissing);
  EXPECT_EQ(r.rows[2].status, app::RowStatus::WouldRun);
  EXPECT_FALSE(fs::exists(f.out()));
  o.only = {"Task3_Liver"};
  EXPECT_THROW_MSG(app::run_suite(f.suite, o), "--only: no dataset 'Task3_Liver' in the suite");
  // A missing pretrained init is a failed row, not an exception.
  o.only = {};
  o.dry_run = false;
  f.suite.inits[0].path = (f.dir / "nope").string();
  const auto r2 = app::run_suite(f.suite, o);
  EXPECT_NE(
      row(r2, "Task09_Spleen", "gtgm").message.find("init 'gtgm': " + (f.dir / "nope").string() + " does not exist"),
      std::string::npos);
  EXPECT_EQ(row(r2, "Task09_Spleen", "random").status, app::RowStatus::Done);
}

TEST(Suite, SeedsRunPerSeedAndAreReusedOrRecomputedPerSeed) {
  SuiteFixture f;
  f.suite.datasets.resize(1);  // spleen only
  f.suite.seeds = {1, 2};
  Fake fake;
  app::SuiteRunOptions o;
  o.runner = fake.runner();
  o.overlays = false;
  const auto first = app::run_suite(f.suite, o);
  // Seeds outside inits: seed 1 of both inits, then seed 2.
  EXPECT_EQ(fake.ran, (std::vector<std::string>{"gtgm s1", "random s1", "gtgm s2", "random s2"}));
  ASSERT_EQ(first.rows.size(), 4u);
  EXPECT_EQ(first.rows[2].seed, 2);
  EXPECT_EQ(first.rows[2].run_dir, app::run_dir(f.suite, "Task09_Spleen", "gtgm", 1.0, 2).string());
  EXPECT_EQ(fs::path(first.rows[2].run_dir).filename(), "gtgm-f1-s2");
  EXPECT_TRUE(fs::exists(f.out() / "runs/Task09_Spleen/random-f1-s1/suite_result.json"));
  EXPECT_EQ(app::run_config(f.suite, f.suite.datasets[0], 1.0, f.suite.inits[0], 2).run.name,
            "Task09_Spleen-gtgm-f1-s2");

  const auto again = app::run_suite(f.suite, o);
  EXPECT_EQ(fake.calls, 4);  // every seed reused
  for (const auto& r : again.rows) EXPECT_EQ(r.status, app::RowStatus::Reused) << r.init << " s" << r.seed;

  fs::remove_all(f.out() / "runs/Task09_Spleen/gtgm-f1-s2");
  const auto third = app::run_suite(f.suite, o);
  EXPECT_EQ(fake.calls, 5);  // only the deleted seed's run
  EXPECT_EQ(fake.ran.back(), "gtgm s2");
  EXPECT_EQ(third.rows[2].status, app::RowStatus::Done);
  EXPECT_EQ(third.rows[0].status, app::RowStatus::Reused);
  EXPECT_EQ(third.rows[3].status, app::RowStatus::Reused);

  // An interrupted seed is resumed in its own run dir.
  fs::remove_all(f.out() / "runs/Task09_Spleen/random-f1-s1");
  fake.interrupt = true;
  const auto stopped = app::run_suite(f.suite, o);
  EXPECT_EQ(stopped.rows[1].status, app::RowStatus::Interrupted);
  EXPECT_EQ(stopped.rows[2].status, app::RowStatus::NotRun);
  fake.interrupt = false;
  const auto resumed = app::run_suite(f.suite, o);
  EXPECT_EQ(resumed.rows[1].status, app::RowStatus::Resumed);
  EXPECT_EQ(fake.options.back().resume, app::run_dir(f.suite, "Task09_Spleen", "random", 1.0, 1).string());
  EXPECT_EQ(resumed.rows[2].status, app::RowStatus::Reused);
}

TEST(Suite, SeedReportGivesMeanSdPairedBootstrapCiAndPlot) {
  SuiteFixture f;
  f.suite.datasets.resize(1);
  f.suite.seeds = {1, 2, 3};
  Fake fake;
  fake.random_right_for = {2};  // random init ties pretrained on seed 2, loses on 1 and 3
  app::SuiteRunOptions o;
  o.runner = fake.runner();
  o.overlays = false;
  const auto r = app::run_suite(f.suite, o);
  ASSERT_EQ(r.rows.size(), 6u);

  const auto paired = app::paired_rows(f.suite, r.rows);
  ASSERT_EQ(paired.size(), 1u);
  EXPECT_EQ(paired[0].init, "gtgm");
  EXPECT_EQ(paired[0].baseline, "random");
  EXPECT_EQ(paired[0].seeds, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(paired[0].cmp.n, 3);
  EXPECT_EQ(paired[0].cmp.better, 2);  // the tie on seed 2 counts for neither
  EXPECT_NEAR(paired[0].cmp.mean_diff, 200.0 / 3, 1e-9);
  // Δ = [100, 0, 100]: scripts/reference/bootstrap_ci_reference.py prints lo 0 hi 100.
  EXPECT_DOUBLE_EQ(paired[0].cmp.ci.lo, 0.0);
  EXPECT_DOUBLE_EQ(paired[0].cmp.ci.hi, 100.0);
  EXPECT_EQ(paired[0].verdict, "not significant");

  const std::string md = core::read_text_file(f.out() / "report.md");
  EXPECT_NE(md.find("Seeds: 1, 2, 3"), std::string::npos) << md;
  EXPECT_NE(md.find("| Task09_Spleen | Dice % | 100% | 100.00 ± 0.00 (n=3) | 33.33 ± 57.74 (n=3) | 100.00 | 90.00 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| Task09_Spleen | dice | 100% | random | 3/3 | 33.33 | 57.74 | s1 0.00, s2 100.00, s3 0.00 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| Task09_Spleen | dice | 100% | gtgm | 3 | +66.67 | 57.74 | [+0.00, +100.00] | 2 of 3 | not "
                    "significant |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| Task09_Spleen | 100% | random | 2 | done |"), std::string::npos) << md;
  EXPECT_NE(md.find("![Task09_Spleen-f1](plots/Task09_Spleen-f1.png)"), std::string::npos) << md;

  const std::string stats = core::read_text_file(f.out() / "report_stats.csv");
  EXPECT_EQ(stats.rfind("kind,dataset,metric,label_fraction,init,baseline,n,mean,sd,ci_lo,ci_hi,better,verdict,seeds,"
                        "values\n",
                        0),
            0u);
  EXPECT_NE(stats.find("\nseeds,Task09_Spleen,dice,1,gtgm,,3,100,0,,,,,1;2;3,100;100;100\n"), std::string::npos)
      << stats;
  EXPECT_NE(stats.find(",0,100,2,not significant,1;2;3,100;0;100\n"), std::string::npos) << stats;

  const auto j = nlohmann::json::parse(core::read_text_file(f.out() / "report.json"));
  EXPECT_EQ(j["seeds"], nlohmann::json::array({1, 2, 3}));
  EXPECT_EQ(j["rows"][1]["seed"], 1);
  ASSERT_EQ(j["paired"].size(), 1u);
  EXPECT_EQ(j["paired"][0]["ci"], nlohmann::json::array({0.0, 100.0}));
  EXPECT_EQ(j["paired"][0]["verdict"], "not significant");
  EXPECT_EQ(j["bootstrap"]["resamples"], 10000);
  EXPECT_EQ(j["plots"]["Task09_Spleen"][0], "plots/Task09_Spleen-f1.png");
  const std::string png = core::read_text_file(f.out() / "plots/Task09_Spleen-f1.png");
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));

  // One seed: no interval, said so.
  SuiteFixture g;
  g.suite.datasets.resize(1);
  g.suite.seeds = {5};
  const auto one = app::run_suite(g.suite, o);
  const auto p1 = app::paired_rows(g.suite, one.rows);
  ASSERT_EQ(p1.size(), 1u);
  EXPECT_EQ(p1[0].verdict, "n/a (1 seed)");
  EXPECT_NE(core::read_text_file(g.out() / "report.md").find("| +100.00 | - | n/a | 1 of 1 | n/a (1 seed) |"),
            std::string::npos);
}

TEST(Suite, SeedPlotDrawsADotPerSeedInTheInitsColours) {
  app::SeedSummary a, b;
  a.init = "gtgm";
  a.seeds = {1, 2};
  a.values = {1.0, 0.0};
  b.init = "random";
  b.seeds = {1};
  b.values = {0.5};
  const auto img = app::render_seed_plot({a, b}, 0.0, 1.0, 100);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{100, 2 * 12 + 2 * 70, 3}));
  auto pixel = [&](int64_t y, int64_t x) {
    const auto p = img.index({y, x});
    return std::array<int64_t, 3>{p[0].item<int64_t>(), p[1].item<int64_t>(), p[2].item<int64_t>()};
  };
  const std::array<int64_t, 3> blue = {40, 90, 220}, orange = {240, 140, 30};
  // Column centres x = 12 + 35 and 12 + 70 + 35; y = 87 - v * 75 (top 12, bottom 87).
  EXPECT_EQ(pixel(12, 47), blue);
  EXPECT_EQ(pixel(87, 47), blue);
  EXPECT_EQ(pixel(54, 117), orange);                             // below the mean bar drawn across the dot at y 49..51
  EXPECT_EQ(pixel(50, 125), (std::array<int64_t, 3>{0, 0, 0}));  // the mean bar of random (one value)
  EXPECT_EQ(pixel(5, 5), (std::array<int64_t, 3>{255, 255, 255}));  // background
  EXPECT_THROW_MSG(app::render_seed_plot({a}, 1.0, 1.0), "y range [1, 1] is empty");
}

}  // namespace

namespace {

TEST(Suite, ACremiRowWhosePretrainingSawItsTestSlicesIsRefusedUnlessAllowed) {
  gtgm::test::TempDir dir;
  fs::create_directories(dir / "data/cremi/A");
  const std::string root = (dir / "data/cremi/A").string();
  // The pretraining run: CREMI A, every slice (data.em_pretrain_z 1).
  fs::create_directories(dir / "pretrain_em");
  config::write_resolved(config::default_config({"data.format=cremi", "data.root=" + root, "data.em_pretrain_z=1"}),
                         dir / "pretrain_em");
  gtgm::test::write_file(
      dir / "ft_em.yaml",
      "run:\n  device: cpu\ndata:\n  format: cremi\nfinetune:\n  task: affinity\n  em_train_z: 0.6\n");
  auto suite_text = [&](bool allow) {
    return fmt::format(R"(name: em
output_dir: {0}/out
data_root: {0}/data
data_root_env: ""
allow_pretraining_on_test_data: {1}
inits: {{gtgm: {0}/pretrain_em, random: ""}}
datasets:
  - {{name: CREMI_A, config: ft_em.yaml, data: cremi/A, metric: voi}}
)",
                       dir.path().string(), allow ? "true" : "false");
  };
  int calls = 0;
  app::SuiteRunOptions o;
  o.overlays = false;
  o.runner = [&calls](const config::Config& cfg, const app::FinetuneOptions&) -> app::FinetuneResult {
    ++calls;
    GTGM_THROW("runner reached for {}", cfg.train.init.empty() ? "random" : "gtgm");
  };
  const auto refused = app::run_suite(config::load_suite_config_string(suite_text(false), "s.yaml", dir.path()), o);
  EXPECT_EQ(calls, 1);  // the random row only
  const auto& gtgm_row = row(refused, "CREMI_A", "gtgm");
  EXPECT_EQ(gtgm_row.status, app::RowStatus::Failed);
  EXPECT_NE(gtgm_row.message.find("refused: the pretraining run " + (dir / "pretrain_em").string() + " sampled " +
                                  root + " up to 100% of each volume's depth"),
            std::string::npos)
      << gtgm_row.message;
  EXPECT_NE(gtgm_row.message.find("allow_pretraining_on_test_data: true"), std::string::npos) << gtgm_row.message;

  fs::remove_all(dir / "out");
  calls = 0;
  const auto allowed = app::run_suite(config::load_suite_config_string(suite_text(true), "s.yaml", dir.path()), o);
  EXPECT_EQ(calls, 2);
  EXPECT_NE(row(allowed, "CREMI_A", "gtgm").message.find("runner reached for gtgm"), std::string::npos)
      << row(allowed, "CREMI_A", "gtgm").message;
}

}  // namespace
