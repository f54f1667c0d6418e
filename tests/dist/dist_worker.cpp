// The rank side of the multi-process tests (tests/dist/test_multiprocess.cpp starts this binary
// N times with --gtest_filter=DistWorker.Run and GTGM_DIST_SCENARIO=<name>). Each rank checks
// its results against a single-process reference it computes itself on the global batch, so a
// failing EXPECT makes that rank exit non-zero. Skipped when run as an ordinary test.
#include <signal.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>

#include "gtgm/config/loss_config.h"
#include "gtgm/core/error.h"
#include "gtgm/dist/collectives.h"
#include "gtgm/dist/context.h"
#include "gtgm/dist/reducer.h"
#include "gtgm/losses/clip.h"
#include "gtgm/losses/feature_losses.h"
#include "gtgm/losses/objective.h"
#include "test_util.h"

namespace gtgm::test {
void scenario_sync_bn();  // tests/dist/sync_bn_worker.cpp
}  // namespace gtgm::test

namespace gtgm::dist {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : fallback;
}

Context start(int timeout_s) {
  config::DistConfig cfg;
  cfg.timeout_s = timeout_s;
  return init_from_env(cfg, torch::kCPU);
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what,
                  double tol = 1e-5) {
  ASSERT_TRUE(actual.defined()) << what << " undefined";
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double err =
      (actual.detach().to(torch::kFloat64) - expected.detach().to(torch::kFloat64)).abs().max().item<double>();
  EXPECT_LE(err, tol) << what << ": max abs error " << err;
}

// ---------------------------------------------------------------- collectives
void scenario_collectives() {
  Context ctx = start(30);
  const int r = ctx.rank(), w = ctx.world_size();
  ASSERT_GT(w, 1);
  EXPECT_EQ(rank(), r);
  EXPECT_EQ(world_size(), w);
  EXPECT_EQ(is_rank0(), r == 0);
  EXPECT_EQ(global().world_size(), w);
  EXPECT_EQ(ctx.backend(), "gloo");

  const double sum_ranks = w * (w - 1) / 2.0;
  torch::Tensor x = torch::full({3}, static_cast<double>(r + 1), torch::kFloat64);
  all_reduce_sum_(x, ctx);
  EXPECT_TRUE(torch::allclose(x, torch::full({3}, sum_ranks + w, torch::kFloat64)));
  torch::Tensor m = torch::full({2}, static_cast<float>(r));
  all_reduce_(m, ctx, ReduceOp::Mean);
  EXPECT_NEAR(m[0].item<double>(), sum_ranks / w, 1e-6);
  torch::Tensor mx = torch::full({1}, r * 10, torch::kInt64);
  all_reduce_(mx, ctx, ReduceOp::Max);
  EXPECT_EQ(mx.item<int64_t>(), (w - 1) * 10);
  torch::Tensor mn = torch::full({1}, r * 10 + 5, torch::kInt64);
  all_reduce_(mn, ctx, ReduceOp::Min);
  EXPECT_EQ(mn.item<int64_t>(), 5);
  // A non-contiguous tensor is reduced through a contiguous copy and written back.
  torch::Tensor nc = torch::arange(6, torch::kFloat32).view({2, 3}).t();
  all_reduce_sum_(nc, ctx);
  EXPECT_TRUE(torch::equal(nc, torch::arange(6, torch::kFloat32).view({2, 3}).t() * w));

  torch::Tensor b = torch::full({4}, static_cast<float>(r + 7));
  broadcast_(b, ctx, w - 1);
  EXPECT_EQ(b[3].item<float>(), static_cast<float>(w - 1 + 7));

  torch::Tensor rows = torch::arange(2, torch::kFloat32).view({2, 1}) + 10 * r;
  const torch::Tensor gathered = all_gather(rows, ctx);
  ASSERT_EQ(gathered.sizes(), (std::vector<int64_t>{2 * w, 1}));
  for (int q = 0; q < w; ++q) EXPECT_EQ(gathered[2 * q + 1][0].item<float>(), 10 * q + 1);

  // all_gather_with_grad: d/dx_r of sum(gathered * c) on every rank, summed over ranks = w * c_r.
  torch::Tensor leaf = rows.clone().requires_grad_(true);
  const torch::Tensor coef = torch::arange(2 * w, torch::kFloat32).view({2 * w, 1});
  (all_gather_with_grad(leaf, ctx) * coef).sum().backward();
  expect_close(leaf.grad(), coef.narrow(0, 2 * r, 2) * w, "all_gather_with_grad gradient");
  // all_reduce_sum_with_grad: forward sum, backward sum of gradients.
  torch::Tensor v = torch::full({2}, static_cast<float>(r + 1)).requires_grad_(true);
  const torch::Tensor s = all_reduce_sum_with_grad(v, ctx);
  EXPECT_NEAR(s[0].item<double>(), sum_ranks + w, 1e-6);
  (s * (r + 1)).sum().backward();
  EXPECT_NEAR(v.grad()[0].item<double>(), sum_ranks + w, 1e-6);

  EXPECT_TRUE(any(r == w - 1, ctx));
  EXPECT_FALSE(any(false, ctx));
  const auto meters = reduce_meters({{"loss", static_cast<double>(r)}, {"acc", 1.0 + r}}, ctx);
  EXPECT_NEAR(meters.at("loss"), sum_ranks / w, 1e-12);
  EXPECT_NEAR(meters.at("acc"), 1.0 + sum_ranks / w, 1e-12);
  const auto summed = reduce_meters({{"n", 2.0}}, ctx, ReduceOp::Sum);
  EXPECT_EQ(summed.at("n"), 2.0 * w);
  std::map<std::string, double> uneven{{"loss", 1.0}};
  if (r == 1) uneven["extra"] = 2.0;
  EXPECT_THROW_MSG(reduce_meters(uneven, ctx), "the ranks report different meter sets");

  // A module's parameters and buffers are broadcast from rank 0.
  torch::manual_seed(100 + r);
  torch::nn::BatchNorm1d bn(4);
  torch::nn::Linear lin(3, 4);
  {
    torch::NoGradGuard ng;
    bn->running_mean.fill_(static_cast<float>(r));
  }
  broadcast_module(*lin, ctx);
  broadcast_module(*bn, ctx);
  torch::manual_seed(100);
  torch::nn::Linear lin0(3, 4);
  EXPECT_TRUE(torch::equal(lin->weight, lin0->weight));
  EXPECT_EQ(bn->running_mean[0].item<float>(), 0.f);
  barrier(ctx);
}

// ---------------------------------------------------------------- loss parity
// Global batch (same on every rank), this rank's rows, and a single-process reference.
struct Batch {
  torch::Tensor global, local;
};
Batch make_batch(int64_t rows, int64_t cols, const Context& ctx, uint64_t seed, double scale = 1.0) {
  torch::manual_seed(seed);
  Batch b;
  b.global = torch::randn({rows, cols}, torch::kFloat64) * scale;
  const int64_t per = rows / ctx.world_size();
  b.local = b.global.narrow(0, per * ctx.rank(), per).clone();
  return b;
}

// Runs `loss_fn(model, input, ctx)` on this rank's rows with `ctx`, and on the global rows in one
// process; compares the loss, the model's averaged parameter gradients and the input gradients.
void check_parity(const std::string& what, const Context& ctx,
                  const std::function<torch::Tensor(torch::nn::Linear&, const torch::Tensor&, const torch::Tensor&,
                                                    const Context*)>& loss_fn,
                  int64_t rows = 8, int64_t in_dim = 5, int64_t out_dim = 4) {
  const Batch x = make_batch(rows, in_dim, ctx, 11);
  const Batch y = make_batch(rows, in_dim, ctx, 12, 0.5);
  torch::manual_seed(13);
  torch::nn::Linear model(in_dim, out_dim);
  model->to(torch::kFloat64);
  torch::manual_seed(13);
  torch::nn::Linear ref(in_dim, out_dim);
  ref->to(torch::kFloat64);

  torch::Tensor xl = x.local.clone().requires_grad_(true);
  const torch::Tensor loss = loss_fn(model, xl, y.local, &ctx);
  loss.backward();
  torch::Tensor xg = x.global.clone().requires_grad_(true);
  const torch::Tensor ref_loss = loss_fn(ref, xg, y.global, nullptr);
  ref_loss.backward();

  expect_close(loss, ref_loss, what + ": loss (every rank holds the global loss)");
  for (const auto& p : model->named_parameters()) {
    torch::Tensor g = p.value().grad().clone();
    all_reduce_(g, ctx, ReduceOp::Mean);  // what the reducer does
    expect_close(g, ref->named_parameters()[p.key()].grad(), what + ": averaged gradient of " + p.key());
  }
  const int64_t per = rows / ctx.world_size();
  expect_close(xl.grad() / ctx.world_size(), xg.grad().narrow(0, per * ctx.rank(), per),
               what + ": input gradient / world");
}

void scenario_loss_parity() {
  Context ctx = start(60);
  using losses::ClipReduction;
  for (const auto red : {ClipReduction::Sum, ClipReduction::Mean}) {
    check_parity(red == ClipReduction::Sum ? "clip sum" : "clip mean", ctx,
                 [red](torch::nn::Linear& m, const torch::Tensor& x, const torch::Tensor& y, const Context* c) {
                   // text side: a second view of the inputs through a fixed projection
                   return losses::clip_loss(m(x), m(y).detach() + x.narrow(1, 0, 4), 0.07, red, c);
                 });
  }
  for (const auto comm : {losses::BarlowComm::Gather, losses::BarlowComm::AllReduce}) {
    for (const bool standardize : {true, false}) {
      losses::BarlowOptions o;
      o.comm = comm;
      o.standardize = standardize;
      check_parity(fmt::format("barlow comm={} standardize={}",
                               comm == losses::BarlowComm::Gather ? "gather" : "allreduce", standardize),
                   ctx, [o](torch::nn::Linear& m, const torch::Tensor& x, const torch::Tensor& y, const Context* c) {
                     return losses::barlow_twins_loss(m(x), m(x * 0.5 + y), o, c);
                   });
    }
  }
  check_parity("vicreg", ctx,
               [](torch::nn::Linear& m, const torch::Tensor& x, const torch::Tensor& y, const Context* c) {
                 return losses::vicreg_loss(m(x), m(x + y), {}, c);
               });
  // The GTGM objective: both CLIP terms (global negatives) + 0.01 Barlow.
  config::LossConfig cfg;
  losses::GtgmObjective objective(cfg, 4);
  objective->to(torch::kFloat64);
  check_parity("gtgm objective", ctx,
               [&](torch::nn::Linear& m, const torch::Tensor& x, const torch::Tensor& y, const Context* c) {
                 losses::GtgmInputs in;
                 in.e1 = m(x);
                 in.e2 = m(x + y);
                 in.v1 = in.e1 * 2.0;
                 in.v2 = in.e2 - 1.0;
                 in.t = y.narrow(1, 0, 4) * 3.0;
                 return objective->forward(in, c).total;
               });
}

// ---------------------------------------------------------------- training parity
struct ToyNetImpl : torch::nn::Module {
  ToyNetImpl() {
    pre = register_module("pre", torch::nn::Linear(6, 6));
    fc1 = register_module("fc1", torch::nn::Linear(6, 16));
    fc2 = register_module("fc2", torch::nn::Linear(16, 16));
    fc3 = register_module("fc3", torch::nn::Linear(16, 3));
    side = register_module("side", torch::nn::Linear(16, 3));
    never = register_module("never", torch::nn::Linear(3, 3));
    for (auto& p : pre->parameters()) p.set_requires_grad(false);  // frozen
  }
  // `use_side`: the branch only some ranks use (unused parameters on the others).
  torch::Tensor forward(const torch::Tensor& x, bool use_side) {
    const torch::Tensor h = torch::relu(fc2(torch::relu(fc1(pre(x)))));
    return use_side ? fc3(h) + side(h) : fc3(h);
  }
  torch::nn::Linear pre{nullptr}, fc1{nullptr}, fc2{nullptr}, fc3{nullptr}, side{nullptr}, never{nullptr};
};
TORCH_MODULE(ToyNet);

void scenario_train() {
  Context ctx = start(60);
  const std::string mode_name = env_or("GTGM_REDUCE_MODE", "bucketed");
  const ReduceMode mode = mode_name == "per_parameter"    ? ReduceMode::PerParameter
                          : mode_name == "after_backward" ? ReduceMode::BucketedAfterBackward
                                                          : ReduceMode::Bucketed;
  const int accumulation = std::stoi(env_or("GTGM_ACCUMULATION", "1"));
  const int w = ctx.world_size(), r = ctx.rank();
  const int64_t global_batch = 8, local_batch = global_batch / w, steps = 5;
  torch::manual_seed(2024);
  const torch::Tensor data = torch::randn({steps, global_batch, 6});
  const torch::Tensor target = torch::randn({steps, global_batch, 3});

  torch::manual_seed(7);
  ToyNet ref;
  torch::manual_seed(7 + r);  // ranks start different: the reducer's broadcast must align them
  ToyNet net;
  // ~0.5 KB buckets: several buckets, so some are launched from hooks during backward.
  Reducer reducer(*net, ctx, 0.0005, mode);
  EXPECT_GT(reducer.bucket_bytes().size(), 2u);
  for (const auto& p : ref->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), net->named_parameters()[p.key()])) << "not broadcast: " << p.key();
  }
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  torch::optim::SGD ref_opt(ref->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  const torch::Tensor frozen_before = net->pre->weight.clone();

  for (int64_t step = 0; step < steps; ++step) {
    // Reference: one process, global batch; the loss is the mean over the ranks' local losses
    // (each rank's rule for the side branch), i.e. what data parallelism computes.
    ref_opt.zero_grad();
    torch::Tensor ref_loss = torch::zeros({});
    for (int q = 0; q < w; ++q) {
      const auto xb = data[step].narrow(0, q * local_batch, local_batch);
      const auto yb = target[step].narrow(0, q * local_batch, local_batch);
      ref_loss = ref_loss + torch::mse_loss(ref->forward(xb, q == 0), yb) / w;
    }
    ref_loss.backward();
    ref_opt.step();

    opt.zero_grad();
    const auto xb = data[step].narrow(0, r * local_batch, local_batch);
    const auto yb = target[step].narrow(0, r * local_batch, local_batch);
    const int64_t micro = local_batch / accumulation;
    double local_loss = 0;
    for (int k = 0; k < accumulation; ++k) {
      std::optional<Reducer::NoSyncGuard> local;
      if (k + 1 < accumulation) local.emplace(reducer);
      const torch::Tensor loss =
          torch::mse_loss(net->forward(xb.narrow(0, k * micro, micro), r == 0), yb.narrow(0, k * micro, micro)) /
          accumulation;
      // The synced backward: unused parameters (side on rank 1, never) are found from the graph.
      if (k + 1 == accumulation) reducer.prepare_backward({loss});
      loss.backward();
      local_loss += loss.item<double>();
    }
    reducer.finish();
    if (mode == ReduceMode::Bucketed) {
      EXPECT_EQ(reducer.buckets_overlapped(), static_cast<int64_t>(reducer.bucket_bytes().size()))
          << "every bucket should be launched before finish()";
    }
    EXPECT_FALSE(net->never->weight.grad().defined()) << "a parameter unused on every rank keeps no gradient";
    if (mode != ReduceMode::PerParameter) {
      // Gradients now live in the buckets (no copies next step): fc1's weight and bias share one.
      EXPECT_TRUE(net->fc1->weight.grad().is_alias_of(net->fc1->bias.grad())) << "gradients are not bucket aliases";
    }
    opt.step();
    const double mean_loss = reduce_meters({{"loss", local_loss}}, ctx).at("loss");
    EXPECT_NEAR(mean_loss, ref_loss.item<double>(), 1e-5) << "step " << step;
  }
  for (const auto& p : ref->named_parameters()) {
    expect_close(net->named_parameters()[p.key()], p.value(), "final weight " + p.key());
  }
  EXPECT_TRUE(torch::equal(net->pre->weight, frozen_before));
}

// ---------------------------------------------------------------- misuse
void scenario_mismatch() {
  Context ctx = start(30);
  ToyNet net;
  if (ctx.rank() == 1) net->fc2->weight.set_requires_grad(false);
  // Both ranks detect it (the check is collective) and name the parameter.
  EXPECT_THROW_MSG(Reducer(*net, ctx), "parameter #4 (shape [16, 16], ");
  // The group is still usable afterwards.
  barrier(ctx);
  // Two synced backward passes without finish() in between.
  ToyNet ok;
  Reducer reducer(*ok, ctx, 25.0);
  const torch::Tensor x = torch::randn({2, 6});
  ok->forward(x, true).sum().backward();
  EXPECT_THROW_MSG(ok->forward(x, true).sum().backward(), "received a gradient twice before finish()");
}

// ---------------------------------------------------------------- failures
// The victim rank dies / hangs / stops collectives / fails at iteration 3 of an all-reduce loop;
// the survivors must exit non-zero within the timeout, naming it. Prints
// "FAILURE DETECTED after <s> s: <message>" on the survivors.
int scenario_failure(const std::string& how) {
  const int victim = std::stoi(env_or("GTGM_VICTIM", "1"));
  Context ctx = start(std::stoi(env_or("GTGM_TIMEOUT_S", "5")));
  for (int i = 0;; ++i) {
    if (ctx.rank() == victim && i == 3) {
      std::cerr << "victim rank " << victim << ": " << how << std::endl;
      if (how == "kill") ::raise(SIGKILL);
      if (how == "stop") ::raise(SIGSTOP);
      if (how == "stuck") {
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // alive, heartbeat running
      }
      if (how == "error") GTGM_THROW("simulated failure on rank {}", victim);
    }
    torch::Tensor x = torch::ones({1000});
    const auto t0 = std::chrono::steady_clock::now();
    try {
      all_reduce_sum_(x, ctx);
    } catch (const Error& e) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::cerr << "FAILURE DETECTED after " << s << " s: " << e.message() << std::endl;
      throw;
    }
    if (i > 100000) return 0;
  }
}

}  // namespace

// The entry point of every rank.
TEST(DistWorker, Run) {
  const std::string scenario = env_or("GTGM_DIST_SCENARIO", "");
  if (scenario.empty()) GTEST_SKIP() << "helper of the multi-process tests (DistMultiProcess.*)";
  torch::set_num_threads(1);
  if (scenario == "collectives") {
    scenario_collectives();
  } else if (scenario == "loss_parity") {
    scenario_loss_parity();
  } else if (scenario == "train") {
    scenario_train();
  } else if (scenario == "sync_bn") {
    test::scenario_sync_bn();
  } else if (scenario == "mismatch") {
    scenario_mismatch();
  } else if (scenario.rfind("fail_", 0) == 0 || scenario == "rendezvous_alone") {
    // Like the gtgm binary: an error leaves the scope (destroying the context), is printed, exit 1.
    try {
      if (scenario == "rendezvous_alone") {
        start(std::stoi(env_or("GTGM_TIMEOUT_S", "2")));
      } else {
        scenario_failure(scenario.substr(5));
      }
    } catch (const Error& e) {
      std::cerr << "gtgm: error: " << e.message() << std::endl;
      std::exit(1);
    }
  } else {
    FAIL() << "unknown GTGM_DIST_SCENARIO " << scenario;
  }
}

}  // namespace gtgm::dist
