// `gtgm pretrain` / `gtgm export` end to end with the real binary on synthetic phantoms through the
// real cache and loader: SIGTERM -> checkpoint + exit 0, resume == uninterrupted, config refusal,
// export read back by Python's torch.load.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/data/cache_dataset.h"
#include "gtgm/data/preprocess_dataset.h"
#include "gtgm/data/synth.h"
#include "gtgm/dist/local_launch.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/train/checkpoint.h"
#include "gtgm/train/metrics.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

// One synthetic CT task, its cache and captions, shared by the tests of this file.
class PretrainCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    data::PhantomOptions p;
    p.modality = "CT";
    p.num_train = 4;
    p.num_test = 0;
    p.shape = {16, 32, 32};
    data::write_phantom_task(dir() / "task", p);
    const std::string yaml = fmt::format(R"(run:
  device: cpu
  precision: fp32
  threads: 1
  log_level: warn
data:
  root: {0}/task
  cache_dir: {0}/cache
  modality: CT
  crop_size: [8, 24, 24]
  batch_size: 2
  num_workers: 1
  prefetch: 2
model:
  type: resnet3d
  depth: 10
  base_channels: 4
  embed_dim: 16
  proj_hidden: 16
  proj_dim: 8
  text_embed_dim: 12
text:
  model_dir: {1}
  max_length: 32
  caption_cache: {0}/captions.jsonl
optim:
  lr: 1.0e-3
  restart_period: 3
train:
  steps: 6
  log_every: 1
  checkpoint_every: 2
  keep_last: 5
)",
                                         dir().string(), test::bert_tiny_dir().string());
    test::write_file(dir() / "pretrain.yaml", yaml);
    const auto cfg = config::load_config(dir() / "pretrain.yaml");
    data::run_preprocess(cfg.data, cfg.run.seed);
    text::CaptionWriter w(dir() / "captions.jsonl");
    for (const auto& e : data::read_cache_index(dir() / "cache")) {
      for (int z : {0, 8})
        w.append({e.id, {z, 16, 16}, "liver and kidney, slice " + std::to_string(z), "template", ""});
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path dir() { return dir_->path(); }
  static std::string config() { return (dir() / "pretrain.yaml").string(); }
  static std::vector<double> losses(const fs::path& run) {
    std::vector<double> out;
    for (const auto& r : train::read_metrics(run / "metrics.jsonl")) out.push_back(r.get("loss"));
    return out;
  }

 private:
  static test::TempDir* dir_;
};
test::TempDir* PretrainCli::dir_ = nullptr;

// `gtgm args...` as an argv.
std::vector<std::string> gtgm_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {GTGM_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Starts the binary in the background with output to `log`; returns its pid.
pid_t spawn_gtgm(const std::vector<std::string>& args, const fs::path& log) {
  return dist::spawn_process(gtgm_argv(args), dist::current_environment(), log, /*merge_stderr=*/true);
}

// Runs `world` ranks of `gtgm args...` as torchrun would (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*);
// returns each rank's exit code; logs in dir/rank<r>.log.
std::vector<int> run_ranks(int world, const std::vector<std::string>& args, const fs::path& dir) {
  const int port = dist::free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    auto env = dist::current_environment();
    dist::set_torchrun_env(env, r, world, port);
    pids.push_back(dist::spawn_process(gtgm_argv(args), env, dir / ("rank" + std::to_string(r) + ".log"),
                                       /*merge_stderr=*/true));
  }
  std::vector<int> codes;
  for (const pid_t pid : pids) codes.push_back(*dist::reap_process(pid, /*block=*/true));
  return codes;
}

std::string rank_logs(const fs::path& dir, int world) {
  std::string out;
  for (int r = 0; r < world; ++r) {
    const fs::path log = dir / ("rank" + std::to_string(r) + ".log");
    out += "--- rank " + std::to_string(r) + ":\n" + (fs::exists(log) ? core::read_text_file(log) : "(no log)") + "\n";
  }
  return out;
}

}  // namespace

TEST_F(PretrainCli, TwoProcessRunResumesExactlyWithEveryRanksLoaderState) {
  const fs::path full = dir() / "dist_full", part = dir() / "dist_part", logs = dir() / "dist_logs";
  fs::create_directories(logs);
  const std::vector<std::string> base = {"pretrain", "--config", config(), "--set", "train.steps=4"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  for (int code : run_ranks(2, with({"--set", "run.dir=" + full.string()}), logs))
    ASSERT_EQ(code, 0) << rank_logs(logs, 2);
  for (int code : run_ranks(2, with({"--set", "run.dir=" + part.string(), "--stop-after", "2"}), logs)) {
    ASSERT_EQ(code, 0) << rank_logs(logs, 2);
  }
  const auto ck = train::read_checkpoint(train::checkpoint_dir(part, 2));
  EXPECT_EQ(ck.trainer["world_size"], 2);
  ASSERT_EQ(ck.trainer["ranks"].size(), 2u);
  EXPECT_EQ(ck.trainer["ranks"][1]["rank"], 1);
  EXPECT_NE(ck.trainer["ranks"][0]["loader"], ck.trainer["ranks"][1]["loader"]);  // rank 1 has its own shard
  // A single process may not resume a 2-process checkpoint.
  auto r = test::run_gtgm("pretrain --resume " + part.string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("written by 2 process(es) but this job has 1"), std::string::npos) << r.output;
  for (int code : run_ranks(2, {"pretrain", "--resume", part.string()}, logs)) ASSERT_EQ(code, 0) << rank_logs(logs, 2);
  const auto a = losses(full), b = losses(part);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "step " << i + 1;
}

TEST_F(PretrainCli, InterruptedAndResumedRunEqualsTheUninterruptedOne) {
  const fs::path full = dir() / "full", part = dir() / "part";
  auto r = test::run_gtgm("pretrain --config " + config() + " --set run.dir=" + full.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("finished at step 6 of 6"), std::string::npos) << r.output;
  r = test::run_gtgm("pretrain --config " + config() + " --set run.dir=" + part.string() + " --stop-after 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("stopped (stop_after) at step 4"), std::string::npos) << r.output;
  r = test::run_gtgm("pretrain --resume " + part.string());  // the checkpoint's own config
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto a = losses(full), b = losses(part);
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "step " << i + 1;
  EXPECT_TRUE(fs::exists(part / "config.resolved.yaml"));
  EXPECT_TRUE(fs::exists(part / "metrics.csv"));
}

TEST_F(PretrainCli, LogFileHoldsEveryMetricsLineMarksEachAttemptAndEndsWithTheErrorOfAFailedRun) {
  const fs::path run = dir() / "logged";
  // log.txt follows run.log_level (this file's config says warn): info for the metrics lines.
  auto r = test::run_gtgm("pretrain --config " + config() + " --set run.dir=" + run.string() +
                          " --set run.log_level=info --stop-after 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = test::run_gtgm("pretrain --resume " + run.string() + " --log-level info");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string log = core::read_text_file(run / "log.txt");
  const auto new_at = log.find("===== gtgm pretrain"), resumed_at = log.find(": resumed attempt, pid ");
  ASSERT_NE(new_at, std::string::npos) << log;
  EXPECT_NE(log.find(": new attempt, pid "), std::string::npos) << log;
  ASSERT_NE(resumed_at, std::string::npos) << log;
  EXPECT_LT(new_at, resumed_at);
  for (int step = 1; step <= 6; ++step) {  // log_every 1: every step's metrics row, as in metrics.jsonl
    const auto at = log.find(fmt::format("step {} | loss ", step));
    EXPECT_NE(at, std::string::npos) << "step " << step << ":\n" << log;
    if (at != std::string::npos) EXPECT_EQ(step <= 3, at < resumed_at) << "step " << step;
  }
  EXPECT_NE(log.find("| grad_norm "), std::string::npos);
  // The console does not repeat them (it shows the progress line instead).
  EXPECT_EQ(r.output.find("| grad_norm "), std::string::npos) << r.output;

  // A run that fails after its log started: the error is the log's last line.
  const fs::path failed = dir() / "failed";
  fs::create_directories(dir() / "empty_cache");
  r = test::run_gtgm("pretrain --config " + config() + " --set run.dir=" + failed.string() +
                     " --set data.cache_dir=" + (dir() / "empty_cache").string());
  ASSERT_NE(r.exit_code, 0) << r.output;
  const std::string flog = core::read_text_file(failed / "log.txt");
  const auto err = flog.rfind("error run failed: ");
  ASSERT_NE(err, std::string::npos) << flog;
  EXPECT_NE(flog.find("no preprocessing cache", err), std::string::npos) << flog;
  EXPECT_EQ(flog.find('\n', err), flog.size() - 1) << "the error is not the last line:\n" << flog;
  EXPECT_NE(r.output.find("no preprocessing cache"), std::string::npos) << r.output;  // and on the console
}

TEST_F(PretrainCli, ResumeWithAnotherConfigIsRefusedWithTheDiff) {
  const fs::path run = dir() / "refuse";
  auto r = test::run_gtgm("pretrain --config " + config() + " --set run.dir=" + run.string() + " --stop-after 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = test::run_gtgm("pretrain --resume " + run.string() + " --config " + config() + " --set optim.lr=0.5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("optim.lr: 0.001 -> 0.5"), std::string::npos) << r.output;
  r = test::run_gtgm("pretrain --config " + config() + " --set run.dir=" + run.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("pass --resume"), std::string::npos) << r.output;
}

TEST_F(PretrainCli, SigtermFinishesTheStepWritesACheckpointAndExitsZero) {
  const fs::path run = dir() / "sigterm";
  const fs::path log = dir() / "sigterm.log";
  const pid_t pid = spawn_gtgm({"pretrain", "--config", config(), "--set", "run.dir=" + run.string(), "--set",
                                "train.steps=100000", "--set", "train.checkpoint_every=100000"},
                               log);
  ASSERT_GT(pid, 0);
  // Wait until two steps are logged (metrics rows), then ask it to stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  while (train::read_metrics(run / "metrics.jsonl").size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(train::read_metrics(run / "metrics.jsonl").size(), 2u) << core::read_text_file(log);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string output = core::read_text_file(log);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("stopped (SIGTERM)"), std::string::npos) << output;
  const auto ck = train::latest_valid_checkpoint(run);
  ASSERT_TRUE(ck.has_value()) << output;
  const int64_t step = train::read_manifest(*ck)["step"].get<int64_t>();
  EXPECT_GE(step, 2);
  EXPECT_EQ(train::read_metrics(run / "metrics.jsonl").back().step, step);
  // And it continues from there.
  const auto r = test::run_gtgm("pretrain --resume " + run.string() + " --set train.steps=" + std::to_string(step + 1));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(train::read_metrics(run / "metrics.jsonl").back().step, step + 1);
}

TEST_F(PretrainCli, ExportIsReadableFromPython) {
  const fs::path run = dir() / "export_run", out = dir() / "exported";
  auto r = test::run_gtgm("pretrain --config " + config() + " --set run.dir=" + run.string() + " --stop-after 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = test::run_gtgm("export " + run.string() + " --out " + out.string() + " --with-heads");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"encoder.safetensors", "encoder.pt", "architecture.json", "projections.safetensors"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f;
  }
  const auto arch = nlohmann::json::parse(core::read_text_file(out / "architecture.json"));
  EXPECT_EQ(arch["encoder"], "resnet3d");
  EXPECT_EQ(arch["embed_dim"], 16);
  EXPECT_EQ(arch["step"], 2);
  EXPECT_EQ(arch["model_config"]["depth"], "10");
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3 to check torch.load";
  const auto [py_rc, py] =
      test::run_command(fmt::format("/usr/bin/python3 {}/scripts/check_export.py {}", GTGM_SOURCE_ROOT, out.string()));
  EXPECT_EQ(py_rc, 0) << py;
  EXPECT_NE(py.find("OK: encoder.pt and encoder.safetensors agree"), std::string::npos) << py;
  r = test::run_gtgm("export " + (dir() / "nothing").string() + " --out " + out.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
}

TEST_F(PretrainCli, WarnsAtStartWhenTheGlobalBatchIsTooSmallForTheObjective) {
  // The fixture's batch of 2 in one process: standardised Barlow Twins and the heads' BatchNorm
  // both normalise over 2 samples.
  const fs::path run = dir() / "small_batch";
  auto r = test::run_gtgm("pretrain --config " + config() + " --set run.dir=" + run.string() + " --stop-after 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("global batch 2 (data.batch_size 2 x 1 process(es)) is too small for standardised Barlow "
                          "Twins (loss.barlow_standardize: true)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("or the reference code's unstandardised variant (loss.barlow_standardize: false)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("the projection heads' BatchNorm normalises over 2 samples (data.batch_size 2 x 1 "
                          "process(es), per process): its outputs are +-1 whatever the input (model.proj_out_bn"),
            std::string::npos)
      << r.output;
  // The same warnings are in the run's log.
  EXPECT_NE(core::read_text_file(run / "log.txt").find("is too small for standardised Barlow Twins"),
            std::string::npos);
  // A batch of 4: nothing to warn about.
  const fs::path healthy = dir() / "healthy_batch";
  r = test::run_gtgm("pretrain --config " + config() + " --set run.dir=" + healthy.string() +
                     " --set data.batch_size=4 --stop-after 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("too small"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("BatchNorm normalises over"), std::string::npos) << r.output;
}
