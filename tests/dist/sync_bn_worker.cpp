// The rank side of DistMultiProcess.SyncBatchNorm* (started by tests/dist/test_multiprocess.cpp
// through DistWorker.Run with GTGM_DIST_SCENARIO=sync_bn): each rank runs synchronised batch norm
// on its half of a global batch and compares itself with one process on the whole batch, which it
// computes itself with plain batch norm (torch::nn::BatchNorm for the single layers).
// Convention (dist/collectives.h): the global loss is the mean of the ranks' losses; the reducer
// averages parameter gradients; input gradients are world_size x the single-process ones.
#include <torch/torch.h>

#include <chrono>

#include "gtgm/app/train_setup.h"
#include "gtgm/config/load.h"
#include "gtgm/config/model_config.h"
#include "gtgm/core/error.h"
#include "gtgm/dist/collectives.h"
#include "gtgm/dist/context.h"
#include "gtgm/dist/reducer.h"
#include "gtgm/models/layers.h"
#include "gtgm/models/registry.h"
#include "gtgm/train/sync_bn.h"
#include "gtgm/train/task.h"
#include "gtgm/train/trainer.h"
#include "test_util.h"

namespace gtgm::test {
namespace sync_bn_worker {

using dist::Context;

void expect_near_all(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what,
                     double tol = 1e-5) {
  ASSERT_TRUE(actual.defined()) << what << " undefined";
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double err =
      (actual.detach().to(torch::kFloat64) - expected.detach().to(torch::kFloat64)).abs().max().item<double>();
  EXPECT_LE(err, tol) << what << ": max abs error " << err;
}

torch::Tensor rows_of(const torch::Tensor& global, const Context& ctx) {
  const int64_t per = global.size(0) / ctx.world_size();
  return global.narrow(0, per * ctx.rank(), per);
}

// One layer, 2 steps: BatchNorm1d(5, affine=False) on [2, 5] per rank, or BatchNorm3d(3) on
// [2, 3, 2, 3, 4] per rank, against torch::nn::BatchNorm on the global batch (float32, 1e-5).
void layer_parity(const Context& ctx, bool three_d) {
  const std::string what = three_d ? "BatchNorm3d affine" : "BatchNorm1d affine=False";
  const int64_t ch = three_d ? 3 : 5;
  const std::vector<int64_t> shape = three_d ? std::vector<int64_t>{4, 3, 2, 3, 4} : std::vector<int64_t>{4, 5};
  models::Norm bn(models::NormKind::Batch, ch, 1, /*affine=*/three_d);
  torch::nn::AnyModule ref;
  if (three_d) {
    ref = torch::nn::AnyModule(torch::nn::BatchNorm3d(ch));
  } else {
    ref = torch::nn::AnyModule(torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(ch).affine(false)));
  }
  torch::manual_seed(21);
  if (three_d) {
    torch::NoGradGuard ng;
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-1, 1);
    ref.ptr()->named_parameters()["weight"].copy_(bn->weight);
    ref.ptr()->named_parameters()["bias"].copy_(bn->bias);
  }
  EXPECT_EQ(models::set_cross_replica(*bn, train::cross_replica_sum(ctx)), 1);
  EXPECT_TRUE(bn->synchronised());
  for (int step = 0; step < 2; ++step) {
    const std::string at = what + " step " + std::to_string(step);
    const torch::Tensor x = torch::randn(shape) * (step + 1.5) + 0.7 * step;  // same on every rank (seeded)
    const torch::Tensor coef = torch::randn(shape);
    torch::Tensor xl = rows_of(x, ctx).clone().requires_grad_(true);
    const torch::Tensor y = bn->forward(xl);
    (y * rows_of(coef, ctx)).sum().backward();
    torch::Tensor xg = x.clone().requires_grad_(true);
    const torch::Tensor yr = ref.forward(xg);
    ((yr * coef).sum() / ctx.world_size()).backward();

    expect_near_all(y, rows_of(yr, ctx), at + ": output");
    expect_near_all(xl.grad() / ctx.world_size(), rows_of(xg.grad(), ctx), at + ": input gradient / world");
    for (const auto& p : bn->named_parameters()) {
      torch::Tensor g = p.value().grad().clone();
      dist::all_reduce_(g, ctx, dist::ReduceOp::Mean);
      expect_near_all(g, ref.ptr()->named_parameters()[p.key()].grad(), at + ": averaged gradient of " + p.key());
      p.value().mutable_grad().zero_();
    }
    for (auto& p : ref.ptr()->parameters()) p.mutable_grad().zero_();
    for (const std::string name : {"running_mean", "running_var", "num_batches_tracked"}) {
      expect_near_all(bn->named_buffers()[name], ref.ptr()->named_buffers()[name], at + ": " + name);
    }
  }
  // Eval: running stats, no communication (rank 0 alone runs it; a collective would hang it).
  bn->eval();
  ref.ptr()->eval();
  if (ctx.rank() == 0) {
    const torch::Tensor x = torch::randn(shape);
    expect_near_all(bn->forward(x), ref.forward(x), what + ": eval output");
  }
  dist::barrier(ctx);
}

// A small ResNet-10 encoder + projection head (every BatchNorm synchronised, the reducer's
// bucketed all-reduces overlapping the batch norms' backward all-reduces) against the same model
// with plain batch norm on the global batch, float64.
void model_parity(const Context& ctx) {
  config::ModelConfig cfg;
  cfg.encoder.base_channels = 4;
  cfg.encoder.embed_dim = 0;
  cfg.resnet3d.depth = 10;
  cfg.proj_hidden = 8;
  cfg.proj_dim = 6;
  cfg.text_embed_dim = 5;
  torch::manual_seed(33);
  auto model = models::build_gtgm_model(cfg);
  model->to(torch::kFloat64);
  torch::manual_seed(33);
  auto ref = models::build_gtgm_model(cfg);
  ref->to(torch::kFloat64);
  const int64_t synced = train::enable_sync_batch_norm(*model, ctx);
  EXPECT_GE(synced, 10) << "batch norms of the encoder and both heads";
  dist::Reducer reducer(*model, ctx, 0.001);
  EXPECT_GT(reducer.bucket_bytes().size(), 2u);

  torch::manual_seed(34);
  const torch::Tensor x = torch::randn({4, 1, 4, 16, 16}, torch::kFloat64);
  const torch::Tensor text = torch::randn({4, 5}, torch::kFloat64);
  const torch::Tensor cv = torch::randn({4, 6}, torch::kFloat64), ct = torch::randn({4, 6}, torch::kFloat64);
  const torch::Tensor ce = torch::randn({4, model->encoder()->embed_dim()}, torch::kFloat64);
  auto loss_of = [&](models::GtgmModel& m, const torch::Tensor& xi, const torch::Tensor& ti,
                     const std::function<torch::Tensor(const torch::Tensor&)>& rows) {
    const auto img = m->encode_image(xi);
    const torch::Tensor t = m->project_text(ti);
    return (img.projection.square() * rows(cv)).sum() + (t * rows(ct)).sum() + (img.embedding * rows(ce)).sum();
  };
  torch::Tensor xl = rows_of(x, ctx).clone().requires_grad_(true);
  const torch::Tensor loss =
      loss_of(model, xl, rows_of(text, ctx), [&](const torch::Tensor& t) { return rows_of(t, ctx); });
  reducer.prepare_backward({loss});
  loss.backward();
  reducer.finish();
  torch::Tensor xg = x.clone().requires_grad_(true);
  const torch::Tensor ref_loss = loss_of(ref, xg, text, [](const torch::Tensor& t) { return t; }) / ctx.world_size();
  ref_loss.backward();

  const auto loss_sum = dist::reduce_meters({{"loss", loss.item<double>()}}, ctx, dist::ReduceOp::Mean);
  EXPECT_NEAR(loss_sum.at("loss"), ref_loss.item<double>(), 1e-5);
  expect_near_all(xl.grad() / ctx.world_size(), rows_of(xg.grad(), ctx), "model: input gradient / world");
  auto ref_params = ref->named_parameters();
  int64_t compared = 0;
  for (const auto& p : model->named_parameters()) {
    expect_near_all(p.value().grad(), ref_params[p.key()].grad(), "model: reduced gradient of " + p.key());
    ++compared;
  }
  EXPECT_GT(compared, 20);
  auto ref_buffers = ref->named_buffers();
  for (const auto& b : model->named_buffers()) {
    expect_near_all(b.value(), ref_buffers[b.key()], "model: buffer " + b.key());
  }
}

// One value per channel over both ranks (rank 0 holds one sample, rank 1 none): both ranks get
// the error naming the layer and their own input shape.
void too_small(const Context& ctx) {
  models::Norm bn(models::NormKind::Batch, 4, 1, /*affine=*/false);
  bn->set_replicas(train::cross_replica_sum(ctx), "vision_proj.bn2");
  const torch::Tensor x = torch::randn({ctx.rank() == 0 ? 1 : 0, 4});
  EXPECT_THROW_MSG(bn->forward(x),
                   "batch norm 'vision_proj.bn2' synchronised over 2 processes needs more than 1 value per "
                   "channel in training, got 1 over all processes (input [" +
                       std::to_string(ctx.rank() == 0 ? 1 : 0) + ", 4] on this process)");
  dist::barrier(ctx);
}

// model.sync_bn through app::trainer_config and the Trainer: one step of a Norm + Linear task on
// this rank's half of a fixed [4, 3] batch; running_mean is 0.1 x the global batch mean with the
// key on, 0.1 x this rank's mean with it off.
class BnTask : public train::Task {
 public:
  explicit BnTask(const torch::Tensor& rows) : rows_(rows) {
    torch::manual_seed(5);
    bn = root_->register_module("bn", models::Norm(models::NormKind::Batch, 3));
    fc = root_->register_module("fc", torch::nn::Linear(3, 1));
  }
  std::string name() const override { return "bn_toy"; }
  torch::nn::Module& module() override { return *root_; }
  train::Batch next_batch() override { return {rows_, rows_.size(0)}; }
  train::Losses compute(const train::Batch& b, const train::StepContext& ctx) override {
    const auto& x = std::any_cast<const torch::Tensor&>(b.value);
    const torch::Tensor loss = fc->forward(bn->forward(ctx.to_device(x))).square().mean();
    return {loss, {{"loss", loss.detach()}}};
  }
  models::Norm bn{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  std::shared_ptr<torch::nn::Module> root_ = std::make_shared<torch::nn::Module>();
  torch::Tensor rows_;
};

void trainer_wiring(const Context& ctx) {
  const torch::Tensor x = torch::tensor({{1.0, 2.0, -1.0}, {3.0, 0.0, 1.0}, {-2.0, 4.0, 5.0}, {0.0, 6.0, 3.0}});
  for (const bool sync : {true, false}) {
    SCOPED_TRACE(sync ? "model.sync_bn=true" : "model.sync_bn=false");
    TempDir dir;
    const auto cfg = config::default_config({"run.dir=" + dir.path().string(), "run.device=cpu", "run.precision=fp32",
                                             "train.steps=1", "run.log_level=warn",
                                             std::string("model.sync_bn=") + (sync ? "true" : "false")});
    BnTask task(rows_of(x, ctx));
    train::TrainerOptions to;
    to.progress_out = nullptr;
    to.handle_signals = false;
    to.checkpoints = false;
    train::Trainer trainer(app::trainer_config(cfg), task, torch::kCPU, to);
    EXPECT_EQ(task.bn->synchronised(), sync);
    trainer.run();
    const torch::Tensor batch_mean = sync ? x.mean(0) : rows_of(x, ctx).mean(0);
    expect_near_all(task.bn->running_mean, 0.1 * batch_mean, "running_mean after one step");
  }
}

}  // namespace sync_bn_worker

void scenario_sync_bn() {
  config::DistConfig cfg;
  cfg.timeout_s = 60;
  const dist::Context ctx = dist::init_from_env(cfg, torch::kCPU);
  ASSERT_EQ(ctx.world_size(), 2);
  sync_bn_worker::layer_parity(ctx, /*three_d=*/false);
  sync_bn_worker::layer_parity(ctx, /*three_d=*/true);
  sync_bn_worker::model_parity(ctx);
  sync_bn_worker::too_small(ctx);
  sync_bn_worker::trainer_wiring(ctx);
}

}  // namespace gtgm::test
