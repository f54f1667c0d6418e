#pragma once
// A small, fully deterministic Task for trainer tests: a conv net with batch norm and dropout on
// an in-memory regression dataset, with per-epoch shuffling from its own seeded stream and input
// noise from the global torch generator (so resume must restore both kinds of RNG state).
#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "gtgm/core/seed.h"
#include "gtgm/train/task.h"

namespace gtgm::test {

struct ToyNetImpl : torch::nn::Module {
  ToyNetImpl() {
    conv = register_module("conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(1, 4, 3).padding(1)));
    norm = register_module("norm", torch::nn::BatchNorm3d(4));
    drop = register_module("drop", torch::nn::Dropout(0.2));
    head = register_module("head", torch::nn::Linear(4, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {  // x [B, 1, 4, 4, 4]
    auto h = torch::relu(norm(conv(x)));           // [B, 4, 4, 4, 4]
    h = drop(h.mean({2, 3, 4}));                   // [B, 4]
    return head(h).squeeze(1);                     // [B]
  }
  torch::nn::Conv3d conv{nullptr};
  torch::nn::BatchNorm3d norm{nullptr};
  torch::nn::Dropout drop{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(ToyNet);

struct ToyBatch {
  torch::Tensor x, y;
};

class ToyTask : public train::Task {
 public:
  explicit ToyTask(uint64_t seed = 7, int batch = 4, int n = 12) : seed_(seed), batch_(batch) {
    torch::manual_seed(seed);  // same initial weights for every instance
    net_ = ToyNet();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
    x_ = torch::randn({n, 1, 4, 4, 4}, gen);
    y_ = x_.mean({1, 2, 3, 4}) * 3.0 + 0.5;
    order_.resize(n);
    reshuffle();
  }
  std::string name() const override { return "toy"; }
  torch::nn::Module& module() override { return *net_; }
  train::Batch next_batch() override {
    std::vector<int64_t> idx;
    for (int i = 0; i < batch_; ++i) {
      if (pos_ == static_cast<int64_t>(order_.size())) {
        ++epoch_;
        pos_ = 0;
        reshuffle();
      }
      idx.push_back(order_[pos_++]);
    }
    const auto index = torch::tensor(idx);
    ++batches_;
    if (batches_ == poison_weights_at) {  // diverged weights, as an overflowing update leaves them
      torch::NoGradGuard no_grad;
      net_->parameters()[0].fill_(std::numeric_limits<float>::infinity());
    }
    return {ToyBatch{x_.index_select(0, index), y_.index_select(0, index)}, batch_};
  }
  train::Losses compute(const train::Batch& b, const train::StepContext& ctx) override {
    const auto& batch = std::any_cast<const ToyBatch&>(b.value);
    torch::Tensor x = ctx.to_device(batch.x);
    x = x + 0.05 * torch::randn_like(x);  // global generator
    torch::Tensor pred;
    {
      auto guard = ctx.autocast();
      pred = net_->forward(x);
    }
    const auto y = ctx.to_device(batch.y);
    auto mse = torch::mse_loss(pred.to(torch::kFloat), y);
    auto l1 = torch::l1_loss(pred.to(torch::kFloat), y).detach();
    if (nan_at.count(ctx.step + 1)) mse = mse * std::numeric_limits<float>::quiet_NaN();
    return {mse, {{"mse", mse}, {"l1", l1}}};
  }
  nlohmann::json state() const override { return {{"epoch", epoch_}, {"pos", pos_}, {"batches", batches_}}; }
  void restore(const nlohmann::json& s) override {
    epoch_ = s.at("epoch").get<int64_t>();
    pos_ = s.at("pos").get<int64_t>();
    batches_ = s.at("batches").get<int64_t>();
    reshuffle();
  }

  std::set<int64_t> nan_at;        // 1-based steps whose loss is NaN
  int64_t poison_weights_at = -1;  // 1-based step before which the first weight tensor becomes +Inf
  int64_t batches_ = 0;
  ToyNet net_{nullptr};

 private:
  void reshuffle() {
    std::iota(order_.begin(), order_.end(), 0);
    auto engine = core::make_engine(seed_, {static_cast<uint64_t>(epoch_)});
    std::shuffle(order_.begin(), order_.end(), engine);
  }
  uint64_t seed_;
  int batch_;
  torch::Tensor x_, y_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0, pos_ = 0;
};

}  // namespace gtgm::test
