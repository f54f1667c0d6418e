// CUDA pretraining steps (skipped without a GPU): bf16 autocast, fp16 with the grad scaler,
// channels-last-3d, the fused CUDA grad-scaler kernels against the CPU path, and one host
// synchronisation per step (the skip/stop flags) outside logging.
#include <gtest/gtest.h>

#include "gtgm/app/train_setup.h"
#include "gtgm/config/load.h"
#include "gtgm/core/torch_compat.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/text/embedding_cache.h"
#include "gtgm/train/grad_scaler.h"
#include "gtgm/train/pretrain_task.h"
#include "gtgm/train/trainer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

config::Config cuda_config(const fs::path& dir, std::vector<std::string> extra) {
  {
    text::CaptionWriter w(dir / "captions.jsonl");
    for (int v = 0; v < 4; ++v)
      w.append({"synthetic_" + std::to_string(v), {0, 0, 0}, "liver and spleen", "template", ""});
  }
  std::vector<std::string> sets = {"run.dir=" + (dir / "run").string(),
                                   "run.device=cuda",
                                   "run.log_level=warn",
                                   "model.type=resnet3d",
                                   "model.depth=18",
                                   "model.base_channels=8",
                                   "model.embed_dim=64",
                                   "model.proj_hidden=64",
                                   "model.proj_dim=32",
                                   "model.text_embed_dim=12",
                                   "text.model_dir=" + test::bert_tiny_dir().string(),
                                   "text.max_length=32",
                                   "text.caption_cache=" + (dir / "captions.jsonl").string(),
                                   "data.batch_size=4",
                                   "train.steps=4",
                                   "train.log_every=1",
                                   "optim.lr=1e-3"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return config::default_config(sets);
}

std::vector<train::MetricsRow> run_steps(const config::Config& cfg, train::PretrainTask& task) {
  std::vector<train::MetricsRow> rows;
  train::TrainerOptions o;
  o.progress_out = nullptr;
  o.handle_signals = false;
  o.checkpoints = false;
  o.on_metrics = [&](const train::MetricsRow& r) { rows.push_back(r); };
  train::Trainer trainer(app::trainer_config(cfg), task, torch::Device(torch::kCUDA, 0), o);
  trainer.run();
  return rows;
}

// Hands out one batch made on the device up front (no copies of its own), and counts the CUDA
// synchronisations from the start of step `from` to the start of step `to`.
class SyncCountingSource : public train::PretrainSource {
 public:
  SyncCountingSource(std::unique_ptr<train::PretrainSource> inner, int from, int to)
      : inner_(std::move(inner)), batch_(inner_->next()), from_(from), to_(to) {
    torch::cuda::synchronize();
  }
  data::PretrainBatch next() override {
    ++calls_;
    if (calls_ == from_) counter_ = std::make_unique<core::compat::CudaSyncCounter>();
    if (calls_ == to_) {
      counted_ = counter_->count();
      sites_ = counter_->first_sites();
      counter_.reset();
    }
    return batch_;
  }
  nlohmann::json state() const override { return inner_->state(); }
  void restore(const nlohmann::json& s) override { inner_->restore(s); }
  std::vector<std::string> case_ids() const override { return inner_->case_ids(); }
  int64_t counted() const { return counted_; }
  std::string sites() const {
    std::string out;
    for (const auto& s : sites_) out += "---\n" + s;
    return out;
  }

 private:
  std::unique_ptr<train::PretrainSource> inner_;
  data::PretrainBatch batch_;
  int from_, to_, calls_ = 0;
  std::unique_ptr<core::compat::CudaSyncCounter> counter_;
  int64_t counted_ = -1;
  std::vector<std::string> sites_;
};

}  // namespace

TEST(TrainCuda, OneHostSynchronisationPerStepOutsideLogging_CUDA) {
  GTGM_REQUIRE_CUDA();
  // The paper's setting: frozen text embeddings from the cache, bf16, no logging in the counted
  // steps. Each step may synchronise once (the skip/stop flags); anything more is a stall.
  test::TempDir tmp;
  const fs::path emb = tmp.path() / "emb.safetensors";
  auto cfg = cuda_config(tmp.path(), {"run.precision=bf16", "train.steps=8", "train.log_every=1000",
                                      "text.embedding_cache=" + emb.string()});
  const auto captions = text::load_caption_inputs(tmp.path() / "captions.jsonl", cfg.text.caption_prefix);
  torch::Tensor hashes = torch::empty({captions.size()}, torch::kLong);
  for (int64_t i = 0; i < captions.size(); ++i) hashes[i] = static_cast<int64_t>(text::hash64(captions.text(i)));
  text::save_embedding_cache(emb, torch::randn({captions.size(), 12}), hashes,
                             torch::ones({captions.size()}, torch::kUInt8), {{"encoder", "test: random"}});
  const torch::Device dev(torch::kCUDA, 0);
  // Steps 3-6 are counted: after cuDNN's autotuning in the first steps, before the final log.
  auto source = std::make_unique<SyncCountingSource>(train::make_random_source(4, {16, 64, 64}, dev, 1), 3, 7);
  SyncCountingSource* counting = source.get();
  train::PretrainTask task(app::pretrain_task_config(cfg), dev, std::move(source));
  const auto rows = run_steps(cfg, task);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(counting->counted(), 4) << "synchronisations in 4 steps; the first ones came from:\n" << counting->sites();
}

TEST(TrainCuda, PretrainStepBf16_CUDA) {
  GTGM_REQUIRE_CUDA();
  test::TempDir tmp;
  const auto cfg = cuda_config(tmp.path(), {"run.precision=bf16"});
  const torch::Device dev(torch::kCUDA, 0);
  train::PretrainTask task(app::pretrain_task_config(cfg), dev, train::make_random_source(4, {16, 64, 64}, dev, 1));
  const auto rows = run_steps(cfg, task);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& r : rows) {
    EXPECT_TRUE(std::isfinite(r.get("loss")));
    EXPECT_EQ(r.get("skipped"), 0.0);
    EXPECT_GT(r.get("cuda_peak_gb"), 0.0);
  }
  EXPECT_TRUE(task.model()->encoder()->parameters()[0].is_cuda());
}

TEST(TrainCuda, PretrainStepFp16WithGradScaler_CUDA) {
  GTGM_REQUIRE_CUDA();
  test::TempDir tmp;
  // A huge initial scale overflows fp16 gradients at first: those steps are skipped (not counted
  // as non-finite) and the scale backs off until steps apply.
  const auto cfg = cuda_config(tmp.path(), {"run.precision=fp16", "train.loss_scale_init=1e9", "train.steps=30"});
  const torch::Device dev(torch::kCUDA, 0);
  train::PretrainTask task(app::pretrain_task_config(cfg), dev, train::make_random_source(4, {16, 64, 64}, dev, 1));
  const auto rows = run_steps(cfg, task);
  ASSERT_EQ(rows.size(), 30u);
  EXPECT_EQ(rows.front().get("skipped"), 1.0);
  EXPECT_LT(rows.back().get("loss_scale"), 1e9);
  EXPECT_EQ(rows.back().get("skipped"), 0.0);
  EXPECT_TRUE(std::isfinite(rows.back().get("grad_norm")));
}

TEST(TrainCuda, ChannelsLastGivesTheSameLoss_CUDA) {
  GTGM_REQUIRE_CUDA();
  test::TempDir tmp;
  const torch::Device dev(torch::kCUDA, 0);
  std::vector<double> loss[2];
  for (int cl = 0; cl < 2; ++cl) {
    const auto cfg = cuda_config(tmp.path(), {"run.precision=fp32", "train.steps=2", "run.deterministic=true",
                                              cl ? "train.channels_last=true" : "train.channels_last=false"});
    torch::manual_seed(0);
    train::PretrainTask task(app::pretrain_task_config(cfg), dev, train::make_random_source(4, {16, 64, 64}, dev, 1));
    for (const auto& r : run_steps(cfg, task)) loss[cl].push_back(r.get("loss"));
    if (cl) {
      const auto w = task.model()->encoder()->parameters()[0];
      EXPECT_TRUE(w.dim() != 5 || w.is_contiguous(at::MemoryFormat::ChannelsLast3d));
    }
  }
  ASSERT_EQ(loss[0].size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(loss[0][i], loss[1][i], 1e-3 * std::abs(loss[0][i]));
}

TEST(TrainCuda, FusedGradScalerMatchesTheCpuPath_CUDA) {
  GTGM_REQUIRE_CUDA();
  train::GradScalerOptions o;
  o.init_scale = 1024;
  o.growth_interval = 2;
  train::GradScaler cpu(true, torch::kCPU, o), gpu(true, torch::Device(torch::kCUDA, 0), o);
  for (int step = 0; step < 5; ++step) {
    auto g = torch::randn({7}) * 1024;
    if (step == 2) g[3] = INFINITY;
    std::vector<torch::Tensor> a = {g.clone()}, b = {g.clone().cuda()};
    cpu.unscale_(a);
    gpu.unscale_(b);
    EXPECT_EQ(cpu.found_inf().item<float>(), gpu.found_inf().item<float>()) << "step " << step;
    if (step != 2) EXPECT_TRUE(torch::allclose(a[0], b[0].cpu()));
    cpu.update();
    gpu.update();
    EXPECT_EQ(cpu.current_scale(), gpu.current_scale()) << "step " << step;
  }
}
