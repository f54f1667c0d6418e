// Kill tests (#16): `gtgm pretrain`, `finetune`, `preprocess`, `caption` (template captioner) and
// `eval` are SIGKILLed at seeded points (early, midway through writing a checkpoint / cache /
// caption / report file, late; see kill_harness.h), then rerun as a user would (`--resume RUN`
// when a checkpoint exists, else the same command). Each asserts: the rerun exits 0; its result
// equals the uninterrupted run's bit for bit (losses, weights, cache arrays, captions, scores:
// gtgm promises exact resume on CPU); no partial file was read (no "skipping checkpoint", every
// metrics line parses, the caption cache has no cut line, report.json parses); no temp file is
// left behind. Tiny CPU configs: each run takes a few seconds.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/synth.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/train/checkpoint.h"
#include "gtgm/train/metrics.h"
#include "kill_harness.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;
using test::KillPoint;

std::string join_args(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += " '" + a + "'";
  return out;
}

// Every metrics.jsonl line parses and the steps are 1, 2, ... n.
void expect_clean_metrics(const fs::path& jsonl, int64_t n) {
  const std::string text = core::read_text_file(jsonl);
  std::istringstream in(text);
  std::string line;
  int64_t step = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << jsonl << ": a cut line: " << line;
    EXPECT_EQ(j.at("step").get<int64_t>(), ++step) << jsonl;
  }
  EXPECT_EQ(step, n) << jsonl;
}

void expect_same_tensors(const fs::path& a, const fs::path& b) {
  const auto x = io::load_safetensors(a), y = io::load_safetensors(b);
  ASSERT_EQ(x.size(), y.size()) << a << " vs " << b;
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].first, y[i].first);
    EXPECT_TRUE(torch::equal(x[i].second, y[i].second)) << x[i].first << " of " << b;
  }
}

// The loss column as text ("nan" where a row has none, e.g. validation rows): equal text = equal bits
// for what the metrics file holds.
std::vector<std::string> losses(const fs::path& run) {
  std::vector<std::string> out;
  for (const auto& r : train::read_metrics(run / "metrics.jsonl")) out.push_back(fmt::format("{}", r.get("loss")));
  return out;
}

// Files under `dir` (relative path -> bytes), without the lock file and the log.
std::map<std::string, std::string> files_under(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name == ".gtgm.lock" || name == "log.txt") continue;
    out[fs::relative(e.path(), dir).string()] = core::read_text_file(e.path());
  }
  return out;
}

// What a kill left under a real (non-temp) name is whole: every .json parses, every checkpoint
// folder verifies against its manifest, every line of a .jsonl but the last parses (an append
// can cut only the last line, which readers skip). Temp names are left for the rerun to remove.
void expect_visible_files_whole(const fs::path& out) {
  static const std::regex kTempName(R"(\..+\.(tmp|tmpdir|old)\.\d+\.\d+|\.gtgm-tmp-\d+-.+)");
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(out, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::path p = it->path();
    if (std::regex_match(p.filename().string(), kTempName)) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory() && p.parent_path().filename() == "checkpoints" &&
        p.filename().string().rfind("step_", 0) == 0) {
      EXPECT_EQ(train::verify_checkpoint(p), "") << p;
    } else if (it->is_regular_file() && p.extension() == ".json" && p.parent_path().filename() == "cases") {
      // A preprocess meta file: plan hash, source stamps (JSON), cache entry (JSON), one per line.
      std::istringstream in(core::read_text_file(p));
      std::string hash, stamps, entry;
      EXPECT_TRUE(std::getline(in, hash) && std::getline(in, stamps) && std::getline(in, entry)) << p << " is cut";
      EXPECT_FALSE(nlohmann::json::parse(stamps, nullptr, false).is_discarded()) << p;
      EXPECT_FALSE(nlohmann::json::parse(entry, nullptr, false).is_discarded()) << p;
    } else if (it->is_regular_file() && p.extension() == ".json") {
      EXPECT_FALSE(nlohmann::json::parse(core::read_text_file(p), nullptr, false).is_discarded()) << p << " is cut";
    } else if (it->is_regular_file() && p.extension() == ".jsonl") {
      std::istringstream in(core::read_text_file(p));
      std::vector<std::string> lines;
      for (std::string line; std::getline(in, line);) lines.push_back(line);
      for (size_t i = 0; i + 1 < lines.size(); ++i)
        EXPECT_FALSE(nlohmann::json::parse(lines[i], nullptr, false).is_discarded()) << p << ":" << i + 1;
    }
  }
}

// What a kill point did, for failure messages.
std::string describe(const KillPoint& p, const test::KillOutcome& o) {
  return fmt::format("kill point '{}' (GTGM_KILL_SEED={}): {}; output:\n{}", p.label, test::kill_seed(),
                     o.stopped ? "stopped at the fault point, then SIGKILLed"
                     : o.killed ? "SIGKILLed after the observed event"
                                : fmt::format("finished before the kill (exit {})", o.exit_code),
                     o.output);
}

// The three points of one command: an observed early event, a fault point inside a write, an
// observed late event.
std::vector<KillPoint> three_points(KillPoint early, KillPoint mid, KillPoint late) {
  return {std::move(early), std::move(mid), std::move(late)};
}

KillPoint observe(std::string label, std::function<bool()> f) { return {std::move(label), "", std::move(f)}; }
KillPoint fault(const std::string& spec) { return {"fault " + spec, spec, {}}; }

// A CT phantom task, its cache and captions, and the pretraining and fine-tuning configs.
class KillResume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    data::PhantomOptions p;
    p.modality = "CT";
    p.num_train = 3;
    p.num_test = 0;
    p.shape = {8, 24, 24};
    data::write_phantom_task(dir() / "task", p);
    const std::string common = fmt::format(R"(run:
  device: cpu
  precision: fp32
  threads: 1
  log_level: warn
data:
  root: {0}/task
  cache_dir: {0}/cache
  modality: CT
  crop_size: [8, 16, 16]
  batch_size: 2
  num_workers: 1
  prefetch: 1
optim:
  lr: 1.0e-3
)",
                                           dir().string());
    test::write_file(dir() / "pretrain.yaml", common + fmt::format(R"(model:
  type: resnet3d
  depth: 10
  base_channels: 4
  embed_dim: 16
  proj_hidden: 16
  proj_dim: 8
  text_embed_dim: 12
text:
  model_dir: {1}
  max_length: 16
  caption_cache: {0}/captions.jsonl
train:
  steps: 6
  log_every: 1
  checkpoint_every: 2
  keep_last: 5
)",
                                                                   dir().string(), test::bert_tiny_dir().string()));
    test::write_file(dir() / "finetune.yaml", common + R"(model:
  type: resnet3d
  depth: 10
  base_channels: 4
  embed_dim: 16
  num_classes: 5
train:
  steps: 4
  log_every: 1
  validate_every: 2
  checkpoint_every: 2
  keep_last: 3
)");
    const auto cfg = config::load_config(dir() / "pretrain.yaml");
    data::run_preprocess(cfg.data, cfg.run.seed);
    text::CaptionWriter w(dir() / "captions.jsonl");
    for (const auto& e : data::read_cache_index(dir() / "cache"))
      for (int z : {0, 4}) w.append({e.id, {z, 12, 12}, "liver and kidney, slice " + std::to_string(z), "template", ""});
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path dir() { return dir_->path(); }

  // Kills `args` (which write into `out`) at each point; then reruns: `rerun(out)` gives the
  // arguments. `check(out)` compares with the uninterrupted run.
  static void kill_and_rerun(const std::string& name, const std::vector<std::string>& args,
                             const std::vector<KillPoint>& points,
                             const std::function<std::vector<std::string>(const fs::path&)>& rerun,
                             const std::function<void(const fs::path&)>& check,
                             const std::function<std::vector<std::string>(const fs::path&)>& with_out) {
    for (size_t i = 0; i < points.size(); ++i) {
      const fs::path out = dir() / fmt::format("{}_kill{}", name, i);
      auto a = args;
      const auto extra = with_out(out);
      a.insert(a.end(), extra.begin(), extra.end());
      const auto o = test::run_and_kill(a, points[i], dir() / fmt::format("{}_kill{}.log", name, i));
      SCOPED_TRACE(describe(points[i], o));
      if (!points[i].fault.empty()) {
        ASSERT_TRUE(o.stopped) << "the fault point was not reached";
      }
      ASSERT_TRUE(o.killed || o.exit_code == 0);
      expect_visible_files_whole(out);
      const auto again = test::run_gtgm(join_args(rerun(out)));
      ASSERT_EQ(again.exit_code, 0) << again.output;
      EXPECT_EQ(again.output.find("skipping checkpoint"), std::string::npos) << again.output;
      EXPECT_EQ(again.output.find("not valid JSON"), std::string::npos) << again.output;
      check(out);
      EXPECT_EQ(test::temp_files_under(out), std::vector<std::string>{});
    }
  }

 private:
  static test::TempDir* dir_;
};
test::TempDir* KillResume::dir_ = nullptr;

// The rerun of a killed training run: --resume when a checkpoint survived, else the same command.
std::function<std::vector<std::string>(const fs::path&)> resume_or_restart(const std::string& command,
                                                                            const std::vector<std::string>& args) {
  return [command, args](const fs::path& run) {
    if (train::latest_valid_checkpoint(run).has_value()) return std::vector<std::string>{command, "--resume", run.string()};
    auto a = args;
    a.push_back("--set");
    a.push_back("run.dir=" + run.string());
    return a;
  };
}

std::function<std::vector<std::string>(const fs::path&)> run_dir_set() {
  return [](const fs::path& run) { return std::vector<std::string>{"--set", "run.dir=" + run.string()}; };
}

}  // namespace

TEST_F(KillResume, PretrainResumesToTheUninterruptedRun) {
  const std::vector<std::string> args = {"pretrain", "--config", (dir() / "pretrain.yaml").string()};
  const fs::path ref = dir() / "pretrain_ref";
  const auto r = test::run_gtgm(join_args(args) + " --set run.dir=" + ref.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(losses(ref).size(), 6u);
  std::mt19937_64 rng(test::kill_seed() * 1000 + 1);
  fs::path current;  // the killed run's dir, for the observers
  auto rows = [&current](size_t n) { return [&current, n] { return test::count_lines(current / "metrics.jsonl") >= n; }; };
  const int early = test::draw(rng, 1, 2), late = test::draw(rng, 5, 6);
  const std::vector<std::string> mid_points = {
      fmt::format("dir.partial@{}", test::draw(rng, 1, 3)),      // a checkpoint folder half written
      fmt::format("dir.before_swap@{}", test::draw(rng, 1, 3)),  // complete, not yet renamed into place
      fmt::format("append.partial:metrics.jsonl@{}", test::draw(rng, 1, 6))};
  const auto points = three_points(observe(fmt::format("early: metrics row {}", early), rows(early)),
                                   fault(mid_points[static_cast<size_t>(test::draw(rng, 0, 2))]),
                                   observe(fmt::format("late: metrics row {}", late), rows(late)));
  kill_and_rerun(
      "pretrain", args, points, resume_or_restart("pretrain", args),
      [&](const fs::path& run) {
        EXPECT_EQ(losses(run), losses(ref));
        expect_clean_metrics(run / "metrics.jsonl", 6);
        expect_same_tensors(train::checkpoint_dir(ref, 6) / "model.safetensors",
                            train::checkpoint_dir(run, 6) / "model.safetensors");
        for (const auto& [step, ck] : train::list_checkpoints(run)) EXPECT_EQ(train::verify_checkpoint(ck), "") << ck;
      },
      [&current](const fs::path& run) {
        current = run;
        return std::vector<std::string>{"--set", "run.dir=" + run.string()};
      });
}

TEST_F(KillResume, FinetuneResumesToTheUninterruptedRun) {
  const std::vector<std::string> args = {"finetune", "--config", (dir() / "finetune.yaml").string()};
  const fs::path ref = dir() / "finetune_ref";
  const auto r = test::run_gtgm(join_args(args) + " --set run.dir=" + ref.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fs::exists(ref / "predictions" / "summary.json")) << r.output;
  std::mt19937_64 rng(test::kill_seed() * 1000 + 2);
  fs::path current;
  const int early = test::draw(rng, 1, 2);
  const std::vector<std::string> mid_points = {fmt::format("dir.partial@{}", test::draw(rng, 1, 2)),
                                               "write.partial:best.json@1",  // the first validation always writes it
                                               fmt::format("dir.before_swap@{}", test::draw(rng, 1, 2))};
  // Late: once the last step is logged (the final checkpoint, validation and the held-out
  // predictions are still to come), or once the predictions folder appears.
  const bool late_on_predictions = test::draw(rng, 0, 1) == 1;
  const auto points = three_points(
      observe(fmt::format("early: metrics row {}", early),
              [&current, early] { return test::count_lines(current / "metrics.jsonl") >= static_cast<size_t>(early); }),
      fault(mid_points[static_cast<size_t>(test::draw(rng, 0, 2))]),
      observe(late_on_predictions ? "late: predictions folder created" : "late: metrics row 4",
              [&current, late_on_predictions] {
                return late_on_predictions ? fs::exists(current / "predictions")
                                           : test::count_lines(current / "metrics.jsonl") >= 4;
              }));
  kill_and_rerun(
      "finetune", args, points, resume_or_restart("finetune", args),
      [&](const fs::path& run) {
        expect_same_tensors(train::checkpoint_dir(ref, 4) / "model.safetensors",
                            train::checkpoint_dir(run, 4) / "model.safetensors");
        EXPECT_EQ(train::read_best(run), train::read_best(ref));
        EXPECT_EQ(losses(run), losses(ref));
        const auto a = nlohmann::json::parse(core::read_text_file(ref / "predictions" / "summary.json"));
        const auto b = nlohmann::json::parse(core::read_text_file(run / "predictions" / "summary.json"));
        EXPECT_EQ(a.value("mean", nlohmann::json()), b.value("mean", nlohmann::json())) << a.dump() << "\n" << b.dump();
      },
      [&current](const fs::path& run) {
        current = run;
        return std::vector<std::string>{"--set", "run.dir=" + run.string()};
      });
}

TEST_F(KillResume, PreprocessRerunBuildsTheSameCache) {
  const std::vector<std::string> args = {"preprocess", "--config", (dir() / "pretrain.yaml").string()};
  const auto with_cache = [](const fs::path& c) { return std::vector<std::string>{"--set", "data.cache_dir=" + c.string()}; };
  const fs::path ref = dir() / "preprocess_ref";
  const auto r = test::run_gtgm(join_args(args) + " --set data.cache_dir=" + ref.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ref_files = files_under(ref);
  std::mt19937_64 rng(test::kill_seed() * 1000 + 3);
  fs::path current;
  auto cases_written = [&current](size_t n) {
    return [&current, n] {
      size_t k = 0;
      std::error_code ec;
      for (auto it = fs::directory_iterator(current / "cases", ec); it != fs::directory_iterator(); it.increment(ec))
        k += it->path().extension() == ".json" && it->path().filename().string()[0] != '.';
      return k >= n;
    };
  };
  // 3 cases: plan.json, fingerprint.json, then per case image, label and meta files, then cache.json.
  const int early = 1, late = 3;
  const std::vector<std::string> mid_points = {fmt::format("write.partial@{}", test::draw(rng, 1, 12)),
                                               fmt::format("write.before_rename@{}", test::draw(rng, 1, 12)),
                                               "write.partial:cache.json@1"};
  const auto points = three_points(observe("early: first case written", cases_written(early)),
                                   fault(mid_points[static_cast<size_t>(test::draw(rng, 0, 2))]),
                                   observe("late: every case written", cases_written(late)));
  auto rerun = [&](const fs::path& cache) {
    auto a = args;
    const auto extra = with_cache(cache);
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  kill_and_rerun(
      "preprocess", args, points, rerun,
      [&](const fs::path& cache) {
        const auto got = files_under(cache);
        std::vector<std::string> a, b;
        for (const auto& [k, v] : ref_files) a.push_back(k);
        for (const auto& [k, v] : got) b.push_back(k);
        ASSERT_EQ(a, b);
        for (const auto& [k, v] : ref_files) EXPECT_TRUE(got.at(k) == v) << k << " differs";
      },
      [&current, with_cache](const fs::path& cache) {
        current = cache;
        return with_cache(cache);
      });
}

TEST_F(KillResume, TemplateCaptionRerunCompletesTheCache) {
  const fs::path imgs = dir() / "task" / "imagesTr";
  const std::vector<std::string> args = {"caption",  "--images", imgs.string(), "--set", "text.captioner.step=[4,12,12]",
                                         "--set", "run.dir=" + (dir() / "caption_run").string()};
  const fs::path ref = dir() / "captions_ref.jsonl";
  const auto r = test::run_gtgm(join_args(args) + " --out " + ref.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ref_cache = text::CaptionCache::load(ref);
  const size_t n = static_cast<size_t>(ref_cache.size());
  ASSERT_GE(n, 12u);
  std::mt19937_64 rng(test::kill_seed() * 1000 + 4);
  fs::path current;
  auto lines = [&current](size_t k) { return [&current, k] { return test::count_lines(current) >= k + 1; }; };
  const int early = test::draw(rng, 1, 3), late = test::draw(rng, static_cast<int>(n) - 3, static_cast<int>(n) - 1);
  const auto points =
      three_points(observe(fmt::format("early: caption {} written", early), lines(static_cast<size_t>(early))),
                   fault(fmt::format("append.partial:{}@{}", "captions.jsonl", test::draw(rng, 1, static_cast<int>(n)))),
                   observe(fmt::format("late: caption {} written", late), lines(static_cast<size_t>(late))));
  auto out_of = [](const fs::path& d) { return d / "captions.jsonl"; };
  auto rerun = [&](const fs::path& d) {
    auto a = args;
    a.push_back("--out");
    a.push_back(out_of(d).string());
    return a;
  };
  kill_and_rerun(
      "caption", args, points, rerun,
      [&](const fs::path& d) {
        const auto got = text::CaptionCache::load(out_of(d));
        EXPECT_FALSE(got.stats().truncated_last_line);
        EXPECT_EQ(got.stats().duplicate_positions, 0);
        EXPECT_EQ(test::count_lines(out_of(d)), n + 1);  // the header and one line per position
        ASSERT_EQ(got.size(), ref_cache.size());
        std::map<std::string, std::string> a, b;
        for (int64_t i = 0; i < ref_cache.size(); ++i)
          a[text::CaptionWriter::key(ref_cache.record(i).volume, ref_cache.record(i).position)] = ref_cache.text(i);
        for (int64_t i = 0; i < got.size(); ++i)
          b[text::CaptionWriter::key(got.record(i).volume, got.record(i).position)] = got.text(i);
        EXPECT_EQ(a, b);
      },
      [&current, out_of](const fs::path& d) {
        fs::create_directories(d);
        current = out_of(d);
        return std::vector<std::string>{"--out", out_of(d).string()};
      });
}

TEST_F(KillResume, EvalRerunResumesAndReportsTheUninterruptedScores) {
  // A one-row suite (Task09_Spleen stand-in, random init, all labels) over the tiny fine-tuning
  // config; each suite gets its own output_dir, all share the data and its cache.
  data::PhantomOptions p;
  p.shape = {8, 24, 24};
  p.num_train = 3;
  p.num_test = 0;
  data::write_decathlon_task(dir() / "eval_data/Task09_Spleen", data::decathlon_task("Task09_Spleen"), p);
  std::string ft = core::read_text_file(dir() / "finetune.yaml");
  ft.replace(ft.find("num_classes: 5"), 14, "num_classes: 2");  // the spleen stand-in: background + spleen
  // The suite sets data.root; the fine-tuning config keeps its tiny model and steps.
  test::write_file(dir() / "eval_ft.yaml",
                   ft.substr(0, ft.find("data:\n")) + "data:\n  modality: CT\n  crop_size: [8, 16, 16]\n  batch_size: 2\n"
                   "  num_workers: 1\n  prefetch: 1\n" + ft.substr(ft.find("optim:\n")));
  auto suite_file = [&](const fs::path& out) {
    const fs::path f = out.string() + ".yaml";
    test::write_file(f, fmt::format("name: kill\noutput_dir: {}\ndata_root: {}\ndata_root_env: \"\"\ninits: {{random: \"\"}}\n"
                                    "label_fractions: [1.0]\ndatasets:\n"
                                    "  - {{name: Task09_Spleen, config: {}, data: Task09_Spleen}}\n",
                                    out.string(), (dir() / "eval_data").string(), (dir() / "eval_ft.yaml").string()));
    return std::vector<std::string>{"eval", "--config", f.string(), "--no-overlays"};
  };
  const fs::path ref = dir() / "eval_ref";
  const auto r = test::run_gtgm(join_args(suite_file(ref)));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ref_report = nlohmann::json::parse(core::read_text_file(ref / "report.json"));
  ASSERT_EQ(ref_report["rows"].size(), 1u);
  ASSERT_EQ(ref_report["rows"][0]["status"], "done") << ref_report.dump(2);
  std::mt19937_64 rng(test::kill_seed() * 1000 + 5);
  fs::path current;
  auto metrics_rows = [&current](size_t n) {
    return [&current, n] {
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(current, ec); it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->path().filename() == "metrics.jsonl" && test::count_lines(it->path()) >= n) return true;
      return false;
    };
  };
  const std::vector<std::string> mid_points = {fmt::format("dir.partial@{}", test::draw(rng, 1, 2)),
                                               "write.partial:best.json@1", "write.partial:summary.json@1"};
  const int early = test::draw(rng, 1, 3);
  const auto points = three_points(observe(fmt::format("early: metrics row {}", early), metrics_rows(early)),
                                   fault(mid_points[static_cast<size_t>(test::draw(rng, 0, 2))]),
                                   fault("write.partial:report.json@1"));  // late: the report itself
  kill_and_rerun(
      "eval", {}, points, [&](const fs::path& out) { return suite_file(out); },
      [&](const fs::path& out) {
        const auto got = nlohmann::json::parse(core::read_text_file(out / "report.json"));
        ASSERT_EQ(got["rows"].size(), 1u);
        const auto& a = ref_report["rows"][0];
        const auto& b = got["rows"][0];
        EXPECT_TRUE(b["status"] == "done" || b["status"] == "resumed" || b["status"] == "reused") << b.dump(2);
        EXPECT_EQ(a["ours"], b["ours"]) << b.dump(2);
        EXPECT_EQ(a["metrics"], b["metrics"]) << b.dump(2);
        EXPECT_EQ(a["train_cases"], b["train_cases"]);
        const fs::path run = b["run_dir"].get<std::string>();
        expect_same_tensors(train::checkpoint_dir(a["run_dir"].get<std::string>(), 4) / "model.safetensors",
                            train::checkpoint_dir(run, 4) / "model.safetensors");
      },
      [&](const fs::path& out) {
        current = out;
        return suite_file(out);
      });
}

}  // namespace gtgm
