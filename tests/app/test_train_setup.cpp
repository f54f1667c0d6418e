// app/train_setup: the config sections handed to the train components, the resume config check.
#include <gtest/gtest.h>

#include "gtgm/app/train_setup.h"
#include "gtgm/config/load.h"
#include "test_util.h"

using namespace gtgm;

TEST(TrainSetup, ResumeConfigCheckIgnoresOnlyWhitelistedKeys) {
  const auto saved = config::default_config({"run.dir=a", "optim.lr=1e-3"});
  EXPECT_TRUE(app::resume_config_mismatches(
                  saved, config::default_config({"run.dir=b", "optim.lr=1e-3", "train.steps=500000", "run.threads=2"}))
                  .empty());
  const auto current = config::default_config({"run.dir=a", "optim.lr=2e-3", "model.depth=18"});
  const auto m = app::resume_config_mismatches(saved, current);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], "model.depth: 50 -> 18");
  EXPECT_EQ(m[1], "optim.lr: 0.001 -> 0.002");
  try {
    app::check_resume_config(saved, current, "ck");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("differs from this run's in 2 key(s)"), std::string::npos);
  }
}

TEST(TrainSetup, ComponentsGetTheirSectionsAndTheTrainerTheResolvedConfig) {
  const auto cfg = config::default_config(
      {"run.seed=7", "optim.lr=0.5", "train.steps=9", "model.depth=18", "finetune.dice_weight=0.25"});
  const train::TrainerConfig t = app::trainer_config(cfg);
  EXPECT_EQ(t.run.seed, 7);
  EXPECT_EQ(t.optim.lr, 0.5);
  EXPECT_EQ(t.train.steps, 9);
  EXPECT_EQ(t.config_yaml, config::to_yaml(cfg));
  ASSERT_TRUE(t.check_resume);
  // Whitelisted keys (train.steps) may differ; others are refused with the diff.
  t.check_resume(config::to_yaml(config::default_config(
                     {"run.seed=7", "optim.lr=0.5", "train.steps=20", "model.depth=18", "finetune.dice_weight=0.25"})),
                 "ck");
  EXPECT_THROW_MSG(
      t.check_resume(config::to_yaml(config::default_config({"run.seed=7", "optim.lr=0.001", "train.steps=9",
                                                             "model.depth=18", "finetune.dice_weight=0.25"})),
                     "ck"),
      "optim.lr: 0.001 -> 0.5");
  const train::PretrainTaskConfig p = app::pretrain_task_config(cfg);
  EXPECT_EQ(p.model.resnet3d.depth, 18);
  EXPECT_EQ(p.train.steps, 9);
  const train::FinetuneTaskConfig f = app::finetune_task_config(cfg);
  EXPECT_EQ(f.run.seed, 7);
  EXPECT_EQ(f.finetune.dice_weight, 0.25);
}
