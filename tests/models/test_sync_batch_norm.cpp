// models::sync_batch_norm in one process: the kernel against torch's batch norm, the all-reduce
// count, eval mode, world size 1, two identical replicas, and the error for one value per channel.
// The two-process parity (2 ranks x batch 2 == 1 process x batch 4) is DistMultiProcess.SyncBatchNorm*.
#include <torch/torch.h>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"
#include "gtgm/models/heads.h"
#include "gtgm/models/layers.h"
#include "gtgm/models/registry.h"
#include "gtgm/models/sync_batch_norm.h"
#include "test_util.h"

namespace gtgm::models {
namespace {

// Replicas whose sum multiplies by `factor` (1 = this process alone, 2 = two identical replicas)
// and counts its calls.
std::shared_ptr<CrossReplica> counting_replicas(int world, double factor, int* calls) {
  auto r = std::make_shared<CrossReplica>();
  r->world_size = world;
  r->all_reduce_sum = [factor, calls](torch::Tensor& x) {
    ++*calls;
    x.mul_(factor);
  };
  return r;
}

double bn_max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.detach().to(torch::kFloat64) - b.detach().to(torch::kFloat64)).abs().max().item<double>();
}

struct BnCase {
  std::vector<int64_t> shape;
  bool affine;
};

// The kernel (identity sum) equals torch::batch_norm in training: output, input / weight / bias
// gradients and running stats, in float64; one all-reduce forward, one backward.
TEST(SyncBatchNorm, KernelEqualsTorchBatchNormInFloat64) {
  for (const BnCase& c : {BnCase{{6, 5}, false}, BnCase{{3, 4, 2, 3, 5}, true}, BnCase{{2, 3, 4, 4}, true}}) {
    SCOPED_TRACE(core::shape_str(c.shape));
    torch::manual_seed(5);
    const int64_t ch = c.shape[1];
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    const torch::Tensor x0 = torch::randn(c.shape, f64) * 3 + 1.5;
    const torch::Tensor w0 = c.affine ? torch::rand({ch}, f64) + 0.5 : torch::Tensor();
    const torch::Tensor b0 = c.affine ? torch::randn({ch}, f64) : torch::Tensor();
    const torch::Tensor coef = torch::randn(c.shape, f64);
    const torch::Tensor rm0 = torch::randn({ch}, f64), rv0 = torch::rand({ch}, f64) + 0.5;

    int calls = 0;
    torch::Tensor x = x0.clone().requires_grad_(true);
    torch::Tensor w = c.affine ? w0.clone().requires_grad_(true) : torch::Tensor();
    torch::Tensor b = c.affine ? b0.clone().requires_grad_(true) : torch::Tensor();
    torch::Tensor rm = rm0.clone(), rv = rv0.clone();
    const torch::Tensor y = sync_batch_norm(x, w, b, rm, rv, 0.1, 1e-5, counting_replicas(1, 1.0, &calls), "bn");
    EXPECT_EQ(calls, 1);
    (y * coef).sum().backward();
    EXPECT_EQ(calls, 2);

    torch::Tensor xr = x0.clone().requires_grad_(true);
    torch::Tensor wr = c.affine ? w0.clone().requires_grad_(true) : torch::Tensor();
    torch::Tensor br = c.affine ? b0.clone().requires_grad_(true) : torch::Tensor();
    torch::Tensor rmr = rm0.clone(), rvr = rv0.clone();
    const torch::Tensor yr = torch::batch_norm(xr, wr, br, rmr, rvr, true, 0.1, 1e-5, false);
    (yr * coef).sum().backward();

    EXPECT_LE(bn_max_diff(y, yr), 1e-12);
    EXPECT_LE(bn_max_diff(x.grad(), xr.grad()), 1e-12);
    if (c.affine) {
      EXPECT_LE(bn_max_diff(w.grad(), wr.grad()), 1e-12);
      EXPECT_LE(bn_max_diff(b.grad(), br.grad()), 1e-12);
    }
    EXPECT_LE(bn_max_diff(rm, rmr), 1e-12);
    EXPECT_LE(bn_max_diff(rv, rvr), 1e-12);
  }
}

// Two identical replicas (the sum doubles): the global batch is this batch twice, so outputs and
// input gradients are those of one process, but running_var takes the unbiased variance over 2n.
TEST(SyncBatchNorm, TwoIdenticalReplicasUseTheGlobalCount) {
  torch::manual_seed(6);
  const torch::Tensor x0 = torch::randn({2, 3, 2, 2, 2}, torch::kFloat64);
  const int64_t n = 2 * 2 * 2 * 2;
  int calls = 0;
  Norm bn(NormKind::Batch, 3);
  bn->to(torch::kFloat64);
  bn->set_replicas(counting_replicas(2, 2.0, &calls), "twin");
  EXPECT_TRUE(bn->synchronised());
  torch::Tensor x = x0.clone().requires_grad_(true);
  const torch::Tensor y = bn->forward(x);
  torch::Tensor xr = x0.clone().requires_grad_(true);
  const torch::Tensor yr = torch::batch_norm(xr, {}, {}, {}, {}, true, 0.1, 1e-5, false);
  EXPECT_LE(bn_max_diff(y, yr), 1e-12);
  y.pow(3).sum().backward();
  yr.pow(3).sum().backward();
  EXPECT_LE(bn_max_diff(x.grad(), xr.grad()), 1e-12);
  EXPECT_EQ(calls, 2);
  const torch::Tensor mean = x0.mean({0, 2, 3, 4});
  const torch::Tensor var = (x0 - mean.view({1, 3, 1, 1, 1})).square().mean({0, 2, 3, 4});  // biased
  EXPECT_LE(bn_max_diff(bn->running_var, 0.9 + 0.1 * var * (2.0 * n) / (2.0 * n - 1)), 1e-12);
  EXPECT_LE(bn_max_diff(bn->running_mean, 0.1 * mean), 1e-12);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
}

// With replicas of world size 1 a Norm is torch::nn::BatchNorm bit for bit, and never calls the sum.
TEST(SyncBatchNorm, WorldSizeOneIsTorchBatchNormExactly) {
  torch::manual_seed(7);
  int calls = 0;
  Norm bn(NormKind::Batch, 4);
  bn->set_replicas(counting_replicas(1, 1.0, &calls), "one");
  EXPECT_FALSE(bn->synchronised());
  torch::nn::BatchNorm3d ref(4);
  {
    torch::NoGradGuard ng;
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-1, 1);
    ref->weight.copy_(bn->weight);
    ref->bias.copy_(bn->bias);
  }
  for (int step = 0; step < 2; ++step) {
    const torch::Tensor x0 = torch::randn({3, 4, 2, 3, 3}) * 2 + 1;
    torch::Tensor x = x0.clone().requires_grad_(true), xr = x0.clone().requires_grad_(true);
    const torch::Tensor y = bn->forward(x), yr = ref->forward(xr);
    EXPECT_TRUE(torch::equal(y, yr));
    y.square().sum().backward();
    yr.square().sum().backward();
    EXPECT_TRUE(torch::equal(x.grad(), xr.grad()));
    EXPECT_TRUE(torch::equal(bn->weight.grad(), ref->weight.grad()));
    EXPECT_TRUE(torch::equal(bn->bias.grad(), ref->bias.grad()));
  }
  EXPECT_TRUE(torch::equal(bn->running_mean, ref->running_mean));
  EXPECT_TRUE(torch::equal(bn->running_var, ref->running_var));
  EXPECT_TRUE(torch::equal(bn->num_batches_tracked, ref->num_batches_tracked));
  EXPECT_EQ(calls, 0);
  // Parameter and buffer names are torch's, synchronised or not.
  std::vector<std::string> names;
  for (const auto& p : bn->named_parameters()) names.push_back(p.key());
  for (const auto& p : bn->named_buffers()) names.push_back(p.key());
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
}

// Eval mode normalises with the running stats and never communicates.
TEST(SyncBatchNorm, EvalModeUsesRunningStatsWithoutCommunication) {
  torch::manual_seed(8);
  int calls = 0;
  Norm bn(NormKind::Batch, 3);
  bn->set_replicas(counting_replicas(2, 2.0, &calls), "eval");
  {
    torch::NoGradGuard ng;
    bn->running_mean.copy_(torch::tensor({0.5, -1.0, 2.0}));
    bn->running_var.copy_(torch::tensor({4.0, 0.25, 1.0}));
  }
  bn->eval();
  const torch::Tensor x = torch::randn({1, 3, 2, 2});
  const torch::Tensor y = bn->forward(x);
  EXPECT_EQ(calls, 0);
  const torch::Tensor expected = (x - torch::tensor({0.5, -1.0, 2.0}).view({1, 3, 1, 1})) /
                                 (torch::tensor({4.0, 0.25, 1.0}) + 1e-5).sqrt().view({1, 3, 1, 1});
  EXPECT_LE(bn_max_diff(y, expected), 1e-6);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);
}

// One value per channel over all replicas: the error names the layer's module path and the shape.
TEST(SyncBatchNorm, OneValuePerChannelNamesLayerAndShape) {
  struct Holder : torch::nn::Module {
    Holder() { block = register_module("block", ConvNormAct(BlockSpec{}, 1, 2, Shape{3})); }
    ConvNormAct block{nullptr};
  };
  Holder h;
  int calls = 0;
  // World 2 whose other replica holds an empty batch: the sum adds nothing.
  EXPECT_EQ(set_cross_replica(h, counting_replicas(2, 1.0, &calls)), 1);
  EXPECT_THROW_MSG(h.block->forward(torch::randn({1, 1, 1, 1, 1})),
                   "batch norm 'block.norm' synchronised over 2 processes needs more than 1 value per channel in "
                   "training, got 1 over all processes (input [1, 2, 1, 1, 1] on this process)");
  EXPECT_EQ(calls, 1);
  // Two values over the replicas are enough.
  EXPECT_EQ(h.block->forward(torch::randn({2, 1, 1, 1, 1})).sizes(), (std::vector<int64_t>{2, 2, 1, 1, 1}));
  EXPECT_THROW_MSG(
      sync_batch_norm(torch::randn({4}), {}, {}, {}, {}, 0.1, 1e-5, counting_replicas(2, 1.0, &calls), "x"),
      "batch norm 'x' expects [B, C, ...], got [4]");
}

// set_cross_replica finds every batch norm by path (the heads' bn1 and non-affine bn2), skips other
// norms, and a null restores plain batch norm.
TEST(SyncBatchNorm, SetCrossReplicaConvertsEveryBatchNorm) {
  ProjectionHead head(4, 8, 3);
  Norm inst(NormKind::Instance, 3);
  int calls = 0;
  int64_t plain = -1;
  EXPECT_EQ(set_cross_replica(*head, counting_replicas(2, 2.0, &calls), &plain), 2);
  EXPECT_EQ(plain, 0);
  EXPECT_EQ(set_cross_replica(*inst, counting_replicas(2, 2.0, &calls)), 0);
  head->forward(torch::randn({3, 4})).sum().backward();
  EXPECT_EQ(calls, 4);  // bn1 and bn2: one forward, one backward each
  set_cross_replica(*head, nullptr);
  head->forward(torch::randn({3, 4}));
  EXPECT_EQ(calls, 4);
  torch::nn::Sequential seq(torch::nn::BatchNorm1d(3), Norm(NormKind::Batch, 3));
  EXPECT_EQ(set_cross_replica(*seq, counting_replicas(2, 2.0, &calls), &plain), 1);
  EXPECT_EQ(plain, 1);
}

// The paper model (ResNet-50 encoder + both heads): 53 batch norms in the encoder (stem, 16
// bottlenecks x 3, 4 downsamples) + 2 per head. A pretraining step encodes 2 views and 1 text
// batch, so it all-reduces 2 x 55 + 2 = 112 times forward and as often backward.
TEST(SyncBatchNorm, PaperModelHas57BatchNorms) {
  const config::ModelConfig cfg;  // defaults: resnet3d depth 50, heads 2048 -> 2048 -> 512 with bn2
  auto model = build_gtgm_model(cfg);
  int calls = 0;
  EXPECT_EQ(set_cross_replica(*model->encoder(), counting_replicas(2, 2.0, &calls)), 53);
  EXPECT_EQ(set_cross_replica(*model, counting_replicas(2, 2.0, &calls)), 57);
}

}  // namespace
}  // namespace gtgm::models
