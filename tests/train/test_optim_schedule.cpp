// Schedules (vs torch.optim.lr_scheduler), optimisers with parameter groups (vs torch.optim),
// the grad scaler and SHA-256.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/checksum.h"
#include "gtgm/train/grad_scaler.h"
#include "gtgm/train/optim.h"
#include "gtgm/train/schedule.h"
#include "test_util.h"

using namespace gtgm;
using nlohmann::json;

namespace {

json golden() {
  static const json g = json::parse(core::read_text_file(std::string(GTGM_TEST_DATA_DIR) + "/train/train_golden.json"));
  return g;
}

config::OptimConfig optim(std::vector<std::string> sets) {
  return config::default_config(sets).optim;
}

torch::Tensor from_json(const json& j) {
  if (j.at(0).is_array()) {
    std::vector<torch::Tensor> rows;
    for (const auto& r : j) rows.push_back(from_json(r));
    return torch::stack(rows);
  }
  return torch::tensor(j.get<std::vector<double>>(), torch::kDouble).to(torch::kFloat);
}

struct Tiny : torch::nn::Module {
  explicit Tiny(const json& init) {
    auto lin = std::make_shared<torch::nn::Module>();
    auto norm = std::make_shared<torch::nn::Module>();
    w = lin->register_parameter("weight", from_json(init.at("lin.weight")));
    b = lin->register_parameter("bias", from_json(init.at("lin.bias")));
    s = norm->register_parameter("weight", from_json(init.at("norm.weight")));
    register_module("lin", lin);
    register_module("norm", norm);
  }
  torch::Tensor w, b, s;
};

}  // namespace

TEST(Schedule, MatchesTorchSchedulers) {
  const json s = golden().at("schedules");
  struct Case {
    const char* key;
    std::vector<std::string> sets;
  };
  const std::vector<Case> cases = {
      {"sgdr_t10_m1", {"optim.schedule=cosine_restarts", "optim.restart_period=10", "optim.restart_mult=1"}},
      {"sgdr_t4_m2", {"optim.schedule=cosine_restarts", "optim.restart_period=4", "optim.restart_mult=2"}},
      {"cosine_50", {"optim.schedule=cosine"}},
      {"poly_50", {"optim.schedule=poly", "optim.poly_power=0.9"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    const json& g = s.at(c.key);
    auto sets = c.sets;
    sets.push_back("optim.lr=" + fmt::format("{}", g.at("lr").get<double>()));
    sets.push_back("optim.min_lr=" + fmt::format("{}", g.value("min_lr", 0.0)));
    const auto o = optim(sets);
    const auto values = g.at("values").get<std::vector<double>>();
    const int64_t total = g.at("steps").get<int64_t>();
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_NEAR(train::learning_rate(o, static_cast<int64_t>(i), total), values[i], 1e-12 + 1e-9 * values[i])
          << "step " << i;
    }
  }
}

TEST(Schedule, WarmupAndEdges) {
  const auto o = optim({"optim.lr=1.0", "optim.warmup_steps=4", "optim.schedule=cosine", "optim.min_lr=0.1"});
  EXPECT_DOUBLE_EQ(train::learning_rate(o, 0, 14), 0.25);
  EXPECT_DOUBLE_EQ(train::learning_rate(o, 3, 14), 1.0);
  EXPECT_DOUBLE_EQ(train::learning_rate(o, 4, 14), 1.0);                         // cosine starts at its peak
  EXPECT_NEAR(train::learning_rate(o, 9, 14), 0.55, 1e-12);                      // half way: (1 + 0.1) / 2
  EXPECT_DOUBLE_EQ(train::learning_rate(o, 100, 14), train::learning_rate(o, 13, 14));  // clamped past the end
  const auto c = optim({"optim.lr=0.5", "optim.schedule=constant"});
  EXPECT_DOUBLE_EQ(train::learning_rate(c, 7, 10), 0.5);
  // Non-integer T_mult: periods 4, 6, 9, ... start at 0, 4, 10, 19.
  const auto p = train::restart_position(10, 4, 1.5);
  EXPECT_EQ(p.cycle, 2);
  EXPECT_DOUBLE_EQ(p.t_cur, 0);
  EXPECT_DOUBLE_EQ(p.t_i, 9);
  EXPECT_TRUE(train::schedule_depends_on_total(config::Schedule::Poly));
  EXPECT_FALSE(train::schedule_depends_on_total(config::Schedule::CosineRestarts));
  EXPECT_THROW_MSG(train::learning_rate(o, -1, 10), "step must be >= 0");
}

TEST(Optimizer, ParameterGroupsExcludeBiasesAndOneDimensionalParameters) {
  torch::nn::Sequential net(torch::nn::Conv3d(1, 2, 3), torch::nn::BatchNorm3d(2), torch::nn::Linear(2, 3));
  net[0]->as<torch::nn::Conv3d>()->bias.set_requires_grad(false);  // frozen: not optimised at all
  train::Optimizer opt(optim({}), *net);
  EXPECT_EQ(opt.num_decay(), 2u);
  EXPECT_EQ(opt.names(), (std::vector<std::string>{"0.weight", "2.weight", "1.weight", "1.bias", "2.bias"}));
  EXPECT_NE(opt.summary().find("2 tensors"), std::string::npos);
  EXPECT_TRUE(train::uses_weight_decay("lin.weight", torch::zeros({2, 2})));
  EXPECT_FALSE(train::uses_weight_decay("lin.bias", torch::zeros({2, 2})));
  EXPECT_FALSE(train::uses_weight_decay("temperature", torch::zeros({})));
  torch::nn::Linear frozen(2, 2);
  for (auto& p : frozen->parameters()) p.set_requires_grad(false);
  EXPECT_THROW_MSG(train::Optimizer(optim({}), *frozen), "no trainable parameters");
}

TEST(Optimizer, MatchesTorchAdamWAndNesterovSgdWithGroups) {
  for (const char* kind : {"adamw", "sgd"}) {
    SCOPED_TRACE(kind);
    const json g = golden().at(kind);
    Tiny m(g.at("init"));
    const auto x = from_json(g.at("init").at("x"));
    train::Optimizer opt(optim({std::string("optim.name=") + kind, "optim.weight_decay=0.05", "optim.momentum=0.9"}), m);
    const auto lrs = g.at("lrs").get<std::vector<double>>();
    const auto losses = g.at("losses").get<std::vector<double>>();
    for (size_t i = 0; i < lrs.size(); ++i) {
      opt.zero_grad();
      auto loss = ((x.matmul(m.w.t()) + m.b) * m.s).pow(2).mean() + 0.1 * m.w.pow(3).sum();
      loss.backward();
      opt.set_lr(lrs[i]);
      opt.step();
      EXPECT_NEAR(loss.item<double>(), losses[i], 1e-5);
    }
    EXPECT_TRUE(torch::allclose(m.w, from_json(g.at("final").at("lin.weight")), 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(m.b, from_json(g.at("final").at("lin.bias")), 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(m.s, from_json(g.at("final").at("norm.weight")), 1e-5, 1e-6));
  }
}

TEST(Optimizer, StateRoundTripContinuesIdentically) {
  for (const char* kind : {"adamw", "sgd"}) {
    SCOPED_TRACE(kind);
    const json init = golden().at("adamw").at("init");
    const auto cfg = optim({std::string("optim.name=") + kind});
    Tiny a(init), b(init);
    train::Optimizer oa(cfg, a), ob(cfg, b);
    auto step = [](Tiny& m, train::Optimizer& o) {
      o.zero_grad();
      (m.w.sum() * m.s.sum() + m.b.pow(2).sum()).backward();
      o.step();
    };
    step(a, oa);
    step(a, oa);
    // Copy weights and optimiser state from a to b, then both take the same step.
    {
      torch::NoGradGuard ng;
      b.w.copy_(a.w);
      b.b.copy_(a.b);
      b.s.copy_(a.s);
    }
    ob.load_state(oa.state_tensors(), oa.state_meta());
    step(a, oa);
    step(b, ob);
    EXPECT_TRUE(torch::equal(a.w, b.w));
    EXPECT_TRUE(torch::equal(a.s, b.s));
    if (std::string(kind) == "adamw") EXPECT_EQ(oa.state_meta()["params"][0]["step"], 3);
  }
}

TEST(Optimizer, LoadStateRejectsMismatches) {
  const json init = golden().at("adamw").at("init");
  Tiny a(init);
  train::Optimizer adamw(optim({}), a);
  adamw.zero_grad();
  a.w.sum().backward();
  adamw.step();
  train::Optimizer sgd(optim({"optim.name=sgd"}), a);
  EXPECT_THROW_MSG(sgd.load_state(adamw.state_tensors(), adamw.state_meta()),
                   "optimizer state is for 'adamw' but this run uses 'sgd'");
  torch::nn::Linear other(3, 2);
  train::Optimizer o2(optim({}), *other);
  EXPECT_THROW_MSG(o2.load_state(adamw.state_tensors(), adamw.state_meta()), "missing [weight, bias]");
}

TEST(Optimizer, DeviceGradNormAndClipMatchTorch) {
  torch::nn::Linear lin(4, 3);
  (lin(torch::ones({2, 4})).pow(2).sum() * 10).backward();
  std::vector<torch::Tensor> grads = {lin->weight.grad(), lin->bias.grad()};
  const auto expected = torch::cat({grads[0].flatten(), grads[1].flatten()}).norm().item<double>();
  const auto norm = train::global_grad_norm(grads);
  EXPECT_NEAR(norm.item<double>(), expected, 1e-4 * expected);
  train::clip_grads_(grads, norm, 1.0);
  EXPECT_NEAR(train::global_grad_norm(grads).item<double>(), 1.0, 1e-5);
  train::clip_grads_(grads, train::global_grad_norm(grads), 5.0);  // below the limit: unchanged
  EXPECT_NEAR(train::global_grad_norm(grads).item<double>(), 1.0, 1e-5);
  EXPECT_EQ(train::global_grad_norm({}).item<double>(), 0.0);
}

TEST(GradScaler, ScalesUnscalesSkipsBacksOffAndGrows) {
  train::GradScalerOptions o;
  o.init_scale = 8;
  o.growth_interval = 2;
  train::GradScaler s(true, torch::kCPU, o);
  EXPECT_EQ(s.scale(torch::tensor(1.5f)).item<float>(), 12.0f);
  std::vector<torch::Tensor> grads = {torch::full({3}, 16.0f), torch::full({2}, 8.0f)};
  s.unscale_(grads);
  EXPECT_EQ(grads[0][0].item<float>(), 2.0f);
  EXPECT_EQ(grads[1][1].item<float>(), 1.0f);
  EXPECT_EQ(s.found_inf().item<float>(), 0.0f);
  EXPECT_THROW_MSG(s.unscale_(grads), "unscale_ called twice");
  s.update();  // clean step 1
  EXPECT_EQ(s.current_scale(), 8.0);
  std::vector<torch::Tensor> bad = {torch::tensor({1.0f, INFINITY}), torch::ones({2})};
  s.unscale_(bad);
  EXPECT_EQ(s.found_inf().item<float>(), 1.0f);
  s.update();  // overflow: back off, tracker reset
  EXPECT_EQ(s.current_scale(), 4.0);
  EXPECT_EQ(s.found_inf().item<float>(), 0.0f);
  for (int i = 0; i < 2; ++i) {
    std::vector<torch::Tensor> ok = {torch::ones({2})};
    s.unscale_(ok);
    s.update();
  }
  EXPECT_EQ(s.current_scale(), 8.0);  // grew after growth_interval clean steps
  const auto state = s.state();
  train::GradScaler r(true, torch::kCPU, o);
  r.load_state(state);
  EXPECT_EQ(r.current_scale(), 8.0);
  train::GradScaler off(false, torch::kCPU);
  EXPECT_EQ(off.scale(torch::tensor(2.0f)).item<float>(), 2.0f);
  EXPECT_THROW_MSG(off.load_state(state), "saved with loss scaling but this run has it off");
}

TEST(Checksum, Sha256KnownVectors) {
  EXPECT_EQ(core::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(core::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(core::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Incremental updates of odd sizes equal one update (a million 'a').
  core::Sha256 h;
  const std::string chunk(997, 'a');
  size_t n = 0;
  for (; n + chunk.size() <= 1000000; n += chunk.size()) h.update(chunk.data(), chunk.size());
  const std::string rest(1000000 - n, 'a');
  h.update(rest.data(), rest.size());
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  test::TempDir tmp;
  test::write_file(tmp / "f.txt", "abc");
  EXPECT_EQ(core::sha256_file(tmp / "f.txt"), core::sha256_hex("abc"));
  EXPECT_THROW_MSG(core::sha256_file(tmp / "missing"), "no such file");
}
