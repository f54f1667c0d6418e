// Trainer: exact resume from every checkpoint, non-finite skipping, accumulation, metrics files.
#include <gtest/gtest.h>

#include <fstream>

#include "gtgm/app/train_setup.h"
#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/train/checkpoint.h"
#include "gtgm/train/trainer.h"
#include "test_util.h"
#include "train/toy_task.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

train::TrainerConfig toy_config(const fs::path& run_dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"run.dir=" + run_dir.string(), "run.device=cpu",
                                   "run.precision=fp32",          "train.steps=12",
                                   "train.log_every=1",           "train.checkpoint_every=3",
                                   "train.keep_last=10",          "optim.lr=0.02",
                                   "optim.warmup_steps=2",        "optim.schedule=cosine_restarts",
                                   "optim.restart_period=4",      "optim.restart_mult=2",
                                   "optim.accumulation=2",        "optim.grad_clip=0.5",
                                   "run.log_level=warn"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return app::trainer_config(config::default_config(sets));
}

train::TrainerOptions quiet_trainer_options(int64_t stop_after = -1) {
  train::TrainerOptions o;
  o.progress_out = nullptr;
  o.handle_signals = false;
  o.stop_after = stop_after;
  return o;
}

std::vector<double> losses_of(const fs::path& run_dir) {
  std::vector<double> out;
  for (const auto& r : train::read_metrics(run_dir / "metrics.jsonl")) {
    if (!std::isnan(r.get("loss"))) out.push_back(r.get("loss"));
  }
  return out;
}

}  // namespace

TEST(Trainer, ResumeFromEveryCheckpointReproducesTheUninterruptedRun) {
  test::TempDir tmp;
  const fs::path full = tmp / "full";
  {
    test::ToyTask task;
    train::Trainer trainer(toy_config(full), task, torch::kCPU, quiet_trainer_options());
    const auto r = trainer.run();
    EXPECT_EQ(r.step, 12);
    EXPECT_FALSE(r.interrupted);
  }
  const auto reference = losses_of(full);
  ASSERT_EQ(reference.size(), 12u);

  const fs::path part = tmp / "part";
  {
    test::ToyTask task;
    train::Trainer trainer(toy_config(part), task, torch::kCPU, quiet_trainer_options(/*stop_after=*/9));
    const auto r = trainer.run();
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.stop_reason, "stop_after");
    EXPECT_EQ(r.step, 9);
  }
  for (int64_t k : {3, 6, 9}) {
    SCOPED_TRACE("resumed from step " + std::to_string(k));
    const fs::path dir = tmp / ("resume" + std::to_string(k));
    fs::copy(part, dir, fs::copy_options::recursive);
    for (const auto& [step, ck] : train::list_checkpoints(dir)) {
      if (step > k) fs::remove_all(ck);
    }
    torch::manual_seed(12345);  // a different global RNG state than the interrupted run had
    test::ToyTask task(/*seed=*/7);
    train::Trainer trainer(toy_config(dir), task, torch::kCPU, quiet_trainer_options());
    trainer.resume(dir);
    EXPECT_EQ(trainer.step(), k);
    trainer.run();
    const auto resumed = losses_of(dir);
    ASSERT_EQ(resumed.size(), reference.size());
    for (size_t i = 0; i < reference.size(); ++i) EXPECT_EQ(resumed[i], reference[i]) << "step " << i + 1;
  }
}

TEST(Trainer, CorruptNewestCheckpointFallsBackToThePreviousOne) {
  test::TempDir tmp;
  const fs::path dir = tmp / "run";
  {
    test::ToyTask task;
    train::Trainer trainer(toy_config(dir), task, torch::kCPU, quiet_trainer_options(6));
    trainer.run();
  }
  // Flip one byte of the newest weights: the manifest checksum no longer matches.
  const fs::path weights = train::checkpoint_dir(dir, 6) / "model.safetensors";
  std::fstream f(weights, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(-3, std::ios::end);
  f.put('\x7f');
  f.close();
  EXPECT_NE(train::verify_checkpoint(train::checkpoint_dir(dir, 6)).find("sha256 mismatch"), std::string::npos);
  test::ToyTask task;
  train::Trainer trainer(toy_config(dir), task, torch::kCPU, quiet_trainer_options());
  trainer.resume(dir);
  EXPECT_EQ(trainer.step(), 3);
}

TEST(Trainer, RefusesACheckpointOfAnotherConfigWithTheDiff) {
  test::TempDir tmp;
  const fs::path dir = tmp / "run";
  {
    test::ToyTask task;
    train::Trainer trainer(toy_config(dir), task, torch::kCPU, quiet_trainer_options(3));
    trainer.run();
  }
  test::ToyTask task;
  train::Trainer other(toy_config(dir, {"optim.lr=0.5", "optim.weight_decay=0.1"}), task, torch::kCPU,
                       quiet_trainer_options());
  EXPECT_THROW_MSG(other.resume(dir), "optim.lr: 0.02 -> 0.5");
  EXPECT_THROW_MSG(other.resume(dir), "optim.weight_decay: 0.05 -> 0.1");
  // Whitelisted keys (horizon, cadence) may change.
  train::Trainer longer(toy_config(dir, {"train.steps=20", "train.log_every=2"}), task, torch::kCPU,
                        quiet_trainer_options());
  longer.resume(dir);
  EXPECT_EQ(longer.step(), 3);
}

TEST(Trainer, FreshRunRefusesADirectoryWithCheckpoints) {
  test::TempDir tmp;
  const fs::path dir = tmp / "run";
  {
    test::ToyTask task;
    train::Trainer trainer(toy_config(dir), task, torch::kCPU, quiet_trainer_options(3));
    trainer.run();
  }
  test::ToyTask task;
  train::Trainer trainer(toy_config(dir), task, torch::kCPU, quiet_trainer_options());
  EXPECT_THROW_MSG(trainer.run(), "pass --resume");
}

TEST(Trainer, SkipsNonFiniteStepsAndStopsAfterTheLimit) {
  test::TempDir tmp;
  {
    test::ToyTask task;
    task.nan_at = {4, 5};
    train::Trainer trainer(toy_config(tmp / "a", {"train.steps=6", "train.max_nonfinite=3"}), task, torch::kCPU,
                           quiet_trainer_options());
    const auto r = trainer.run();
    EXPECT_EQ(r.step, 6);
    EXPECT_EQ(r.skipped_steps, 2);
    const auto rows = train::read_metrics(tmp / "a" / "metrics.jsonl");
    ASSERT_EQ(rows.size(), 6u);
    EXPECT_EQ(rows[3].get("skipped"), 1.0);
    EXPECT_TRUE(std::isnan(rows[3].get("loss")));
    EXPECT_EQ(rows[5].get("skipped"), 0.0);
  }
  {
    test::ToyTask task;
    task.nan_at = {2, 3, 4};
    train::Trainer trainer(toy_config(tmp / "b", {"train.max_nonfinite=3"}), task, torch::kCPU,
                           quiet_trainer_options());
    EXPECT_THROW_MSG(trainer.run(), "3 consecutive steps had a non-finite loss or gradient (train.max_nonfinite = 3)");
  }
}

TEST(Trainer, DivergedWeightsAreNeverCheckpointed) {
  // The weights overflow before step 2 (as after an absurd optim.lr); its loss is NaN and the step
  // is skipped, but the checkpoint due at step 2 must not be written from those weights.
  test::TempDir tmp;
  test::ToyTask task;
  task.poison_weights_at = 2;
  train::Trainer trainer(toy_config(tmp / "a", {"train.steps=3", "train.checkpoint_every=1", "optim.accumulation=1"}),
                         task, torch::kCPU, quiet_trainer_options());
  const fs::path step1 = train::checkpoint_dir(tmp / "a", 1);
  EXPECT_THROW_MSG(trainer.run(), "weight tensor(s) hold NaN or Inf (first: conv.weight); no checkpoint written");
  const auto left = train::list_checkpoints(tmp / "a");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].second, step1);
  const auto best = train::read_best(tmp / "a");
  EXPECT_TRUE(best.is_null() || best.at("step").get<int64_t>() == 1) << best;
  try {
    test::ToyTask again;
    again.poison_weights_at = 2;
    train::Trainer t(toy_config(tmp / "b", {"train.steps=3", "train.checkpoint_every=1", "optim.accumulation=1"}),
                     again, torch::kCPU, quiet_trainer_options());
    t.run();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("The last checkpoint, " + train::checkpoint_dir(tmp / "b", 1).string() +
                                         ", holds the weights before the divergence"),
              std::string::npos)
        << e.what();
  }
}

TEST(Trainer, SkippedStepLeavesWeightsAndOptimizerUntouched) {
  test::TempDir tmp;
  test::ToyTask task;
  task.nan_at = {3};
  train::Trainer trainer(toy_config(tmp / "a", {"train.steps=3", "optim.accumulation=1"}), task, torch::kCPU,
                         quiet_trainer_options(2));
  trainer.run();
  std::vector<torch::Tensor> w;
  for (const auto& p : task.module().parameters()) w.push_back(p.detach().clone());
  const auto state = trainer.optimizer().state_tensors();
  // Step 3 has a NaN loss. Run it through a second trainer resumed from step 2.
  test::ToyTask task2;
  task2.nan_at = {3};
  train::Trainer t2(toy_config(tmp / "a", {"train.steps=3", "optim.accumulation=1"}), task2, torch::kCPU,
                    quiet_trainer_options());
  t2.resume(tmp / "a");
  t2.run();
  size_t i = 0;
  for (const auto& p : task2.module().parameters()) EXPECT_TRUE(torch::equal(p, w[i++]));
  const auto state2 = t2.optimizer().state_tensors();
  ASSERT_EQ(state.size(), state2.size());
  for (size_t k = 0; k < state.size(); ++k)
    EXPECT_TRUE(torch::equal(state[k].second, state2[k].second)) << state[k].first;
}

TEST(Trainer, MetricsFilesHoldEveryLoggedTerm) {
  test::TempDir tmp;
  test::ToyTask task;
  train::Trainer trainer(toy_config(tmp / "m", {"train.steps=4", "train.log_every=2"}), task, torch::kCPU,
                         quiet_trainer_options());
  trainer.run();
  const auto rows = train::read_metrics(tmp / "m" / "metrics.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 2);
  EXPECT_EQ(rows[1].step, 4);
  for (const char* key : {"loss", "loss/mse", "loss/l1", "lr", "grad_norm", "samples_per_s", "steps_per_s", "data_wait",
                          "rss_gb", "skipped"}) {
    EXPECT_FALSE(std::isnan(rows[1].get(key))) << key;
  }
  EXPECT_DOUBLE_EQ(rows[1].get("loss"), rows[1].get("loss/mse"));
  EXPECT_GT(rows[1].get("rss_gb"), 0.0);
  // samples: batch 4 x accumulation 2 per step.
  const std::string csv = core::read_text_file(tmp / "m" / "metrics.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "step,loss,loss/mse,loss/l1,lr,grad_norm,samples_per_s,steps_per_s,data_wait,rss_gb,skipped");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
  EXPECT_EQ(task.batches_, 4 * 2);
}

TEST(Trainer, AccumulationMatchesOneLargeBatchWithoutBatchStatistics) {
  // A linear model has no batch statistics, so 2 micro-batches of 2 == 1 batch of 4 (same samples).
  struct Lin : train::Task {
    Lin(int batch) : batch(batch) {
      torch::manual_seed(3);
      net = torch::nn::Linear(3, 1);
      auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
      x = torch::randn({8, 3}, gen);
      y = x.sum(1, true);
    }
    std::string name() const override { return "lin"; }
    torch::nn::Module& module() override { return *net; }
    train::Batch next_batch() override {
      auto b = torch::arange(pos, pos + batch) % 8;
      pos += batch;
      return {std::make_pair(x.index_select(0, b), y.index_select(0, b)), batch};
    }
    train::Losses compute(const train::Batch& b, const train::StepContext&) override {
      const auto& [bx, by] = std::any_cast<const std::pair<torch::Tensor, torch::Tensor>&>(b.value);
      auto l = torch::mse_loss(net(bx), by);
      return {l, {}};
    }
    int batch;
    int64_t pos = 0;
    torch::nn::Linear net{nullptr};
    torch::Tensor x, y;
  };
  test::TempDir tmp;
  Lin a(2), b(4);
  train::TrainerOptions o = quiet_trainer_options();
  o.checkpoints = false;
  train::Trainer ta(toy_config(tmp / "a", {"optim.accumulation=2", "train.steps=4"}), a, torch::kCPU, o);
  train::Trainer tb(toy_config(tmp / "b", {"optim.accumulation=1", "train.steps=4"}), b, torch::kCPU, o);
  ta.run();
  tb.run();
  EXPECT_TRUE(torch::allclose(a.net->weight, b.net->weight, 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(a.net->bias, b.net->bias, 1e-6, 1e-7));
}
