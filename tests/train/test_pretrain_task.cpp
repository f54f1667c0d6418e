// PretrainTask: the GTGM step on a small real model (resnet3d + tiny BERT), gradient flow,
// text-embedding cache vs frozen encoder, config errors, and exact resume through the Trainer.
#include <gtest/gtest.h>

#include <set>

#include "gtgm/app/train_setup.h"
#include "gtgm/config/load.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/text/embedding_cache.h"
#include "gtgm/train/checkpoint.h"
#include "gtgm/train/pretrain_task.h"
#include "gtgm/train/trainer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

// Captions for synthetic_0..3 on a small grid (what `gtgm caption` writes).
fs::path write_captions(const fs::path& dir) {
  const fs::path path = dir / "captions.jsonl";
  text::CaptionWriter w(path);
  const char* words[] = {"liver with a dark lesion", "kidney and spleen", "bowel gas near the spine", "fat rim"};
  for (int v = 0; v < 4; ++v) {
    for (int z : {0, 10}) w.append({"synthetic_" + std::to_string(v), {z, 0, 0}, words[(v + z) % 4], "template", ""});
  }
  return path;
}

config::Config tiny_config(const fs::path& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"run.dir=" + (dir / "run").string(),
                                   "run.device=cpu",
                                   "run.precision=fp32",
                                   "run.log_level=warn",
                                   "model.type=resnet3d",
                                   "model.depth=10",
                                   "model.base_channels=4",
                                   "model.embed_dim=16",
                                   "model.proj_hidden=16",
                                   "model.proj_dim=8",
                                   "model.text_embed_dim=12",
                                   "text.model_dir=" + test::bert_tiny_dir().string(),
                                   "text.max_length=32",
                                   "text.caption_cache=" + (dir / "captions.jsonl").string(),
                                   "data.batch_size=3",
                                   "data.crop_size=[8, 32, 32]",
                                   "train.steps=6",
                                   "train.log_every=1",
                                   "train.checkpoint_every=2",
                                   "train.keep_last=5",
                                   "optim.lr=1e-3",
                                   "optim.schedule=cosine_restarts",
                                   "optim.restart_period=3"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return config::default_config(sets);
}

std::unique_ptr<train::PretrainSource> random_source(uint64_t seed = 1) {
  return train::make_random_source(3, {8, 32, 32}, torch::kCPU, seed);
}

train::TrainerOptions quiet(int64_t stop_after = -1) {
  train::TrainerOptions o;
  o.progress_out = nullptr;
  o.handle_signals = false;
  o.stop_after = stop_after;
  return o;
}

}  // namespace

TEST(PretrainTask, StepGivesNamedTermsAndGradientReachesTheImageEncoderOnly) {
  test::TempDir tmp;
  write_captions(tmp.path());
  torch::manual_seed(0);
  train::PretrainTask task(app::pretrain_task_config(tiny_config(tmp.path())), torch::kCPU, random_source());
  EXPECT_NE(task.text_source().find("text encoder"), std::string::npos);
  auto& root = task.module();
  std::vector<std::string> children;
  for (const auto& c : root.named_children()) children.push_back(c.key());
  EXPECT_EQ(children, (std::vector<std::string>{"encoder", "vision_proj", "text_proj", "objective"}));
  root.train();
  train::StepContext ctx;
  const auto losses = task.compute(task.next_batch(), ctx);
  ASSERT_EQ(losses.terms.size(), 3u);
  EXPECT_EQ(losses.terms[0].first, "clip_v1");
  EXPECT_EQ(losses.terms[1].first, "clip_v2");
  EXPECT_EQ(losses.terms[2].first, "barlow");
  // total = clip_v1 + clip_v2 + 0.01 * barlow (paper weights, the config defaults).
  const double expect = losses.terms[0].second.item<double>() + losses.terms[1].second.item<double>() +
                        0.01 * losses.terms[2].second.item<double>();
  EXPECT_NEAR(losses.total.item<double>(), expect, 1e-5 * std::abs(expect));
  losses.total.backward();
  int64_t with_grad = 0;
  for (const auto& p : root.named_parameters()) {
    if (p.key().rfind("encoder.", 0) == 0 && p.value().grad().defined() &&
        p.value().grad().abs().sum().item<double>() > 0) {
      ++with_grad;
    }
  }
  EXPECT_GT(with_grad, 10);
  EXPECT_TRUE(task.model()->text_proj()->parameters()[0].grad().defined());
  // The frozen text encoder is not part of the trained module and never receives a gradient.
  for (const auto& p : root.named_parameters()) EXPECT_EQ(p.key().find("text_encoder"), std::string::npos) << p.key();
  ASSERT_TRUE(task.text_encoder() != nullptr);
  EXPECT_TRUE(task.text_encoder()->frozen());
  EXPECT_FALSE(task.text_encoder()->is_training());
  for (const auto& p : task.text_encoder()->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(PretrainTask, EmbeddingCacheGivesTheSameLossAsTheFrozenEncoder) {
  test::TempDir tmp;
  const fs::path captions = write_captions(tmp.path());
  const auto cfg = tiny_config(tmp.path());
  auto encoder = text::build_text_encoder(cfg.text);
  text::embed_captions(*encoder, text::load_caption_inputs(captions, cfg.text.caption_prefix), tmp / "emb.safetensors");
  torch::manual_seed(0);
  train::PretrainTask a(app::pretrain_task_config(cfg), torch::kCPU, random_source());
  torch::manual_seed(0);
  train::PretrainTask b(app::pretrain_task_config(
                            tiny_config(tmp.path(), {"text.embedding_cache=" + (tmp / "emb.safetensors").string()})),
                        torch::kCPU, random_source());
  EXPECT_NE(b.text_source().find("embedding cache"), std::string::npos);
  a.module().eval();
  b.module().eval();
  train::StepContext ctx;
  const auto la = a.compute(a.next_batch(), ctx), lb = b.compute(b.next_batch(), ctx);
  EXPECT_NEAR(la.total.item<double>(), lb.total.item<double>(), 1e-5);
}

TEST(PretrainTask, ImageOnlyAblationNeedsNoText) {
  test::TempDir tmp;
  train::PretrainTask task(
      app::pretrain_task_config(tiny_config(tmp.path(), {"loss.vlp_weight=0", "text.caption_cache="})), torch::kCPU,
      random_source());
  train::StepContext ctx;
  const auto losses = task.compute(task.next_batch(), ctx);
  ASSERT_EQ(losses.terms.size(), 1u);
  EXPECT_EQ(losses.terms[0].first, "barlow");
}

TEST(PretrainTask, TextSetupMistakesNameTheKey) {
  test::TempDir tmp;
  write_captions(tmp.path());
  EXPECT_THROW_MSG(train::PretrainTask(app::pretrain_task_config(tiny_config(tmp.path(), {"text.caption_cache="})),
                                       torch::kCPU, random_source()),
                   "text.caption_cache is empty");
  EXPECT_THROW_MSG(train::PretrainTask(app::pretrain_task_config(tiny_config(tmp.path(), {"model.text_embed_dim=768"})),
                                       torch::kCPU, random_source()),
                   "outputs 12-d embeddings but model.text_embed_dim is 768");
}

TEST(PretrainTask, ResumedRunReproducesTheUninterruptedLosses) {
  test::TempDir tmp;
  write_captions(tmp.path());
  auto losses_of = [](const fs::path& run) {
    std::vector<double> out;
    for (const auto& r : train::read_metrics(run / "metrics.jsonl")) out.push_back(r.get("loss"));
    return out;
  };
  const fs::path full = tmp / "full", part = tmp / "part";
  {
    torch::manual_seed(0);
    train::PretrainTask task(app::pretrain_task_config(tiny_config(tmp.path(), {"run.dir=" + full.string()})),
                             torch::kCPU, random_source());
    train::Trainer(app::trainer_config(tiny_config(tmp.path(), {"run.dir=" + full.string()})), task, torch::kCPU,
                   quiet())
        .run();
  }
  {
    torch::manual_seed(0);
    train::PretrainTask task(app::pretrain_task_config(tiny_config(tmp.path(), {"run.dir=" + part.string()})),
                             torch::kCPU, random_source());
    train::Trainer(app::trainer_config(tiny_config(tmp.path(), {"run.dir=" + part.string()})), task, torch::kCPU,
                   quiet(4))
        .run();
  }
  {
    torch::manual_seed(99);  // other initial weights: everything must come from the checkpoint
    const auto cfg = tiny_config(tmp.path(), {"run.dir=" + part.string()});
    train::PretrainTask task(app::pretrain_task_config(cfg), torch::kCPU, random_source());
    train::Trainer trainer(app::trainer_config(cfg), task, torch::kCPU, quiet());
    trainer.resume(part);
    EXPECT_EQ(trainer.step(), 4);
    trainer.run();
  }
  const auto a = losses_of(full), b = losses_of(part);
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "step " << i + 1;
}

TEST(PretrainTask, ShuffledCaptionsPairEveryVolumeWithAnotherVolumesCaptions) {
  test::TempDir tmp;
  write_captions(tmp.path());
  const auto cfg = tiny_config(tmp.path());
  train::PretrainTask own(app::pretrain_task_config(cfg), torch::kCPU,
                          train::make_random_source(4, {8, 32, 32}, torch::kCPU, 1, 4));
  auto shuffled = [&] {
    return std::make_unique<train::PretrainTask>(
        app::pretrain_task_config(tiny_config(tmp.path(), {"text.caption_shuffle=true"})), torch::kCPU,
        train::make_random_source(4, {8, 32, 32}, torch::kCPU, 1, 4));
  };
  const auto a = shuffled(), b = shuffled();
  data::PretrainBatch batch;
  for (int v = 0; v < 4; ++v) batch.case_ids.push_back("synthetic_" + std::to_string(v));
  batch.positions = torch::zeros({4, 3}, torch::kLong);
  batch.corners = torch::zeros({4, 3}, torch::kLong);
  torch::NoGradGuard no_grad;
  const torch::Tensor mine = own.text_embeddings(batch), theirs = a->text_embeddings(batch);
  EXPECT_TRUE(torch::equal(theirs, b->text_embeddings(batch)));  // the pairing is fixed by run.seed
  std::set<int> partners;
  for (int i = 0; i < 4; ++i) {
    int partner = -1;
    for (int j = 0; j < 4; ++j)
      if (torch::allclose(theirs[i], mine[j], 1e-4, 1e-5)) partner = j;  // padded batches differ in the last bits
    EXPECT_NE(partner, -1) << "volume " << i << " got no volume's caption";
    EXPECT_NE(partner, i) << "volume " << i << " kept its own caption";
    partners.insert(partner);
  }
  EXPECT_EQ(partners.size(), 4u);  // a permutation: every volume's captions are used once

  try {
    train::PretrainTask one(app::pretrain_task_config(tiny_config(tmp.path(), {"text.caption_shuffle=true"})),
                            torch::kCPU, train::make_random_source(3, {8, 32, 32}, torch::kCPU, 1, 1));
    FAIL() << "shuffled captions with one volume";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("text.caption_shuffle needs at least 2 volumes"), std::string::npos)
        << e.what();
  }
}

TEST(PretrainTask, RandomCaptionsAreRowsOfTheWholeCacheFixedByVolumeAndPlace) {
  test::TempDir tmp;
  write_captions(tmp.path());  // 4 volumes x 2 rows
  auto task = [&](std::vector<std::string> sets) {
    return std::make_unique<train::PretrainTask>(app::pretrain_task_config(tiny_config(tmp.path(), std::move(sets))),
                                                 torch::kCPU,
                                                 train::make_random_source(4, {8, 32, 32}, torch::kCPU, 1, 4));
  };
  const auto own = task({}), a = task({"text.caption_random=true"}), b = task({"text.caption_random=true"});
  const auto other = task({"text.caption_random=true", "run.seed=7"});
  // 64 crops of volume synthetic_0 at different places.
  data::PretrainBatch batch;
  std::vector<int64_t> pos;
  for (int i = 0; i < 64; ++i) {
    batch.case_ids.push_back("synthetic_0");
    pos.insert(pos.end(), {i % 16, (i * 7) % 32, (i * 13) % 32});
  }
  batch.positions = torch::tensor(pos, torch::kLong).view({64, 3});
  batch.corners = batch.positions.clone();
  const auto mine = own->caption_rows(batch), ra = a->caption_rows(batch);
  EXPECT_EQ(ra, b->caption_rows(batch));      // fixed by run.seed, volume and place
  EXPECT_NE(ra, other->caption_rows(batch));  // another seed, another draw
  std::set<std::string> volumes;
  std::set<int64_t> rows(ra.begin(), ra.end());
  for (const int64_t r : ra) {
    ASSERT_GE(r, 0);
    ASSERT_LT(r, a->captions().size());
    volumes.insert(a->captions().record(r).volume);
  }
  // Own captions: only synthetic_0's 2 rows; random: rows of every volume (8 rows, 64 draws).
  EXPECT_LE(std::set<int64_t>(mine.begin(), mine.end()).size(), 2u);
  EXPECT_EQ(volumes.size(), 4u);
  EXPECT_GE(rows.size(), 7u);
  try {
    task({"text.caption_random=true", "text.caption_shuffle=true"});
    FAIL() << "two caption ablations at once";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("text.caption_shuffle and text.caption_random"), std::string::npos)
        << e.what();
  }
}
