// CUDA checks (skipped without a GPU): a 1-process NCCL group through a TCPStore on localhost,
// and the losses on CUDA agreeing with CPU.
#include <torch/torch.h>

#include "dist/process_group.h"
#include "dist/spawn.h"
#include "gtgm/dist/local_launch.h"
#include "gtgm/losses/clip.h"
#include "gtgm/losses/feature_losses.h"
#include "gtgm/losses/segmentation.h"
#include "test_util.h"

namespace gtgm::dist {
namespace {

TEST(DistNccl, OneProcessSmoke_CUDA) {
  GTGM_REQUIRE_CUDA();
#ifndef GTGM_HAVE_NCCL
  GTEST_SKIP() << "this LibTorch has no NCCL";
#else
  GroupOptions o;
  o.rank = 0;
  o.world_size = 1;
  o.master_addr = "127.0.0.1";
  o.master_port = dist::free_port();
  o.backend = config::DistBackend::NCCL;
  o.device = torch::Device(torch::kCUDA, 0);
  o.timeout = std::chrono::seconds(60);
  ProcessGroup pg(o);
  const auto opts = torch::TensorOptions().device(o.device).dtype(torch::kFloat32);
  torch::Tensor x = torch::arange(8, opts);
  std::vector<at::Tensor> tensors{x};
  pg.allreduce(tensors, ReduceOp::Sum).wait();
  torch::cuda::synchronize();
  EXPECT_TRUE(torch::equal(x.cpu(), torch::arange(8, torch::kFloat32)));
  std::vector<at::Tensor> in{torch::ones({2, 3}, opts)};
  std::vector<std::vector<at::Tensor>> out{{torch::zeros({2, 3}, opts)}};
  pg.allgather(out, in).wait();
  std::vector<at::Tensor> b{torch::full({4}, 3.f, opts)};
  pg.broadcast(b, 0).wait();
  pg.barrier();
  torch::cuda::synchronize();
  EXPECT_EQ(out[0][0].sum().item<float>(), 6.f);
  EXPECT_EQ(b[0][0].item<float>(), 3.f);
#endif
}

void expect_same(const torch::Tensor& cuda, const torch::Tensor& cpu, const std::string& what) {
  EXPECT_TRUE(cuda.is_cuda()) << what;
  const double err = (cuda.detach().cpu().to(torch::kFloat64) - cpu.detach().to(torch::kFloat64)).abs().max().item<double>();
  EXPECT_LE(err, 1e-5 * std::max(1.0, cpu.abs().max().item<double>())) << what << ": " << err;
}

TEST(LossesCuda, MatchCpu_CUDA) {
  GTGM_REQUIRE_CUDA();
  torch::manual_seed(0);
  const torch::Device dev(torch::kCUDA, 0);
  const auto a = torch::randn({8, 16}, torch::kFloat64), b = torch::randn({8, 16}, torch::kFloat64);
  expect_same(losses::clip_loss(a.to(dev), b.to(dev), 0.07), losses::clip_loss(a, b, 0.07), "clip");
  expect_same(losses::barlow_twins_loss(a.to(dev), b.to(dev)), losses::barlow_twins_loss(a, b), "barlow");
  expect_same(losses::vicreg_loss(a.to(dev), b.to(dev)), losses::vicreg_loss(a, b), "vicreg");
  const auto logits = torch::randn({2, 3, 4, 8, 8}, torch::kFloat64);
  const auto labels = torch::randint(0, 3, {2, 1, 4, 8, 8}, torch::kLong);
  expect_same(losses::dice_ce_loss(logits.to(dev), labels.to(dev)).total, losses::dice_ce_loss(logits, labels).total,
              "dice_ce");
  const auto aff = torch::randn({2, 3, 4, 8, 8}, torch::kFloat64);
  const auto target = (torch::rand({2, 3, 4, 8, 8}) < 0.7).to(torch::kFloat64);
  expect_same(losses::affinity_loss(aff.to(dev), target.to(dev)), losses::affinity_loss(aff, target), "affinity");
  // bf16 inputs (autocast outputs) are promoted to float32 inside the losses.
  const auto lb = losses::clip_loss(a.to(dev).to(torch::kBFloat16), b.to(dev).to(torch::kBFloat16), 0.07);
  EXPECT_EQ(lb.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(lb.item<double>(), losses::clip_loss(a, b, 0.07).item<double>(), 0.1);
}

}  // namespace
}  // namespace gtgm::dist
