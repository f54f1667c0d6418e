// The projection heads against the GTGM reference code's own head module
// (pretrain/utils/utils_builder.py:27-39, ported as it is to scripts/reference/heads_reference.py),
// and the +-1 outputs of a BatchNorm head over a batch of 2.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "gtgm/models/heads.h"
#include "test_util.h"

namespace gtgm::models {
namespace {

// heads_reference.py's fixed(): ((r * 31 + c * 17 + salt) mod 97 - 48) / 97 / sqrt(cols), float32.
torch::Tensor fixed(int64_t rows, int64_t cols, int64_t salt) {
  auto r = torch::arange(rows, torch::kFloat64).reshape({-1, 1});
  auto c = torch::arange(cols, torch::kFloat64).reshape({1, -1});
  auto v = (torch::remainder(r * 31 + c * 17 + salt, 97) - 48) / 97;
  return (v / std::sqrt(static_cast<double>(cols))).to(torch::kFloat32);
}

ProjectionHead reference_weights(int64_t in, int64_t hidden, int64_t out) {
  ProjectionHead head(in, hidden, out, /*out_bn=*/true);
  torch::NoGradGuard no_grad;
  auto p = head->named_parameters();
  p["fc1.weight"].copy_(fixed(hidden, in, 1));
  p["fc1.bias"].copy_(fixed(1, hidden, 2)[0]);
  p["bn1.weight"].copy_(1.0 + fixed(1, hidden, 3)[0]);
  p["bn1.bias"].copy_(fixed(1, hidden, 4)[0]);
  p["fc2.weight"].copy_(fixed(out, hidden, 5));
  p["fc2.bias"].copy_(fixed(1, out, 6)[0]);
  return head;
}

// One training-mode forward (batch statistics, running statistics updated), then one in eval mode.
std::pair<torch::Tensor, torch::Tensor> run(int64_t in, int64_t hidden, int64_t out, int64_t batch) {
  auto head = reference_weights(in, hidden, out);
  const auto x = fixed(batch, in, 7) * 3.0 + 0.25;
  torch::NoGradGuard no_grad;
  head->train();
  auto y_train = head->forward(x);
  head->eval();
  auto y_eval = head->forward(x);
  return {y_train, y_eval};
}

void expect_values(const torch::Tensor& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  const auto flat = got.contiguous().flatten();
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(flat[static_cast<int64_t>(i)].item<float>(), want[i], 1e-5) << what << " value " << i;
  }
}

// Values printed by scripts/reference/heads_reference.py (torch 1.13).
TEST(HeadsGolden, SmallHeadMatchesReferenceModuleInTrainAndEvalMode) {
  const auto [y_train, y_eval] = run(5, 6, 4, 3);
  expect_values(y_train,
                {-1.12718856, -1.10652435, 0.178808689, -1.20642114, -0.174021006, -0.209172651, 1.12538624,
                 -0.0330381505, 1.30120969, 1.31569707, -1.30419505, 1.23945928},
                "train");
  expect_values(y_eval,
                {-0.120251015, -0.217506722, -0.0507094264, 0.121324025, -0.102180719, -0.212746933, -0.0319835991,
                 0.139478356, -0.123031043, -0.154436946, -0.063435711, 0.117401652},
                "eval");
}

TEST(HeadsGolden, PaperWidthVisionHeadMatchesReferenceModule) {
  const auto [y_train, y_eval] = run(2048, 2048, 512, 3);
  const auto cols = torch::tensor({0, 1, 2, 3, 508, 509, 510, 511}, torch::kLong);
  expect_values(y_train.index_select(1, cols),
                {-1.12166452, 1.1107167, 0.728608727, -1.4135716, -0.0178223606, -1.39619803, 0.820586264, 0.68569684,
                 1.30659413, 0.202605233, -1.41387391, 0.737191141, -1.21564758, 0.892395616, 0.586990952, -1.41337776,
                 -0.184929609, -1.31332183, 0.685265183, 0.676380396, 1.23346996, 0.503802419, -1.40757728,
                 0.727680922},
                "train");
  expect_values(y_eval.index_select(1, cols),
                {-0.00860097259, 0.0011432335, -0.0247506443, 0.0436649323, -0.0487004034, -0.0595737249, 0.105121464,
                 -0.00790214725, 0.0918288827, -0.0394947007, -0.0483657829, 0.0922488347, -0.0885945335,
                 0.0170763098, 0.0819591433, -0.0486757345, 0.0410217457, -0.0735885501, 0.0181126744, 0.0729013756,
                 -0.00288167107, -0.0248810276, 0.0310036577, -0.0148678925},
                "eval");
}

TEST(HeadsGolden, BatchOfTwoGivesPlusMinusOne) {
  // The reference module over 2 samples (heads_reference.py, last block): +-c / sqrt(c^2 + eps).
  const auto [y_two, unused] = run(5, 6, 4, 2);
  (void)unused;
  expect_values(y_two,
                {-0.998690426, 0.997995317, -0.99985218, -0.999046326, 0.998690009, -0.997995496, 0.99985218,
                 0.999046206},
                "train, batch 2");
  // Exactly: a non-affine BatchNorm over rows a, b gives +-(a - b) / 2 / sqrt((a - b)^2 / 4 + eps),
  // whatever the head before it did; the two rows are negatives of each other.
  torch::manual_seed(0);
  ProjectionHead head(3, 4, 2, /*out_bn=*/true);
  head->train();
  const auto x = torch::tensor({{0.3, -1.2, 2.0}, {1.5, 0.4, -0.7}}, torch::kFloat32).requires_grad_(true);
  const auto y = head->forward(x);
  auto children = head->named_children();
  const auto z = children["fc2"]->as<LinearImpl>()->forward(
      torch::relu(children["bn1"]->as<NormImpl>()->forward(children["fc1"]->as<LinearImpl>()->forward(x))));
  for (int64_t j = 0; j < 2; ++j) {
    const double half = (z[0][j].item<double>() - z[1][j].item<double>()) / 2;
    const double expect = half / std::sqrt(half * half + 1e-5);
    EXPECT_NEAR(y[0][j].item<double>(), expect, 1e-6) << "column " << j;
    EXPECT_NEAR(y[1][j].item<double>(), -expect, 1e-6) << "column " << j;
    EXPECT_GT(std::abs(y[0][j].item<double>()), 0.98) << "column " << j;  // 1 - eps / (2 c^2) for c >> sqrt(eps)
  }
  // The BatchNorm's slope is eps / (c^2 + eps)^1.5: almost no gradient reaches the input.
  y.pow(3).sum().backward();
  EXPECT_LT(x.grad().abs().max().item<double>(), 1e-3) << x.grad();
  // A third sample makes the statistics informative again: the same loss has a real gradient.
  const auto x3 = torch::cat({x.detach(), torch::tensor({{-0.9, 0.8, 0.1}})}).requires_grad_(true);
  head->forward(x3).pow(3).sum().backward();
  EXPECT_GT(x3.grad().abs().max().item<double>(), 0.1) << x3.grad();
}

}  // namespace
}  // namespace gtgm::models
