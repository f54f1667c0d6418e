// small_batch_warnings: which batch layouts make which part of the objective degenerate, and the
// +-1 cross-correlation of standardised Barlow Twins over 2 samples that the warning is about.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>

#include "gtgm/config/load.h"
#include "gtgm/losses/feature_losses.h"
#include "gtgm/train/batch_checks.h"
#include "test_util.h"

namespace gtgm::train {
namespace {

BatchLayout layout(int64_t local, int world, bool synced) {
  BatchLayout b;
  b.local_batch = local;
  b.world_size = world;
  b.bn_synced = synced;
  return b;
}

bool contains(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& l : lines) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(BatchChecks, WarnsOnlyForDegenerateLayouts) {
  struct Case {
    const char* name;
    std::vector<std::string> sets;
    BatchLayout batch;
    bool barlow, heads, predictor;
  };
  const std::vector<Case> cases = {
      {"paper, 1 GPU", {}, layout(2, 1, false), true, true, false},
      {"paper, 8 GPUs, per-process BN", {}, layout(2, 8, false), false, true, false},
      {"paper, 8 GPUs, synchronised BN", {}, layout(2, 8, true), false, false, false},
      {"batch 3, 1 process", {}, layout(3, 1, false), false, false, false},
      {"batch 8, 1 process", {}, layout(8, 1, false), false, false, false},
      {"reference Barlow, 1 GPU", {"loss.barlow_standardize=false"}, layout(2, 1, false), false, true, false},
      {"image-only (no heads)", {"loss.vlp_weight=0"}, layout(2, 1, false), true, false, false},
      {"text-only (no Barlow)", {"loss.vr_weight=0"}, layout(2, 1, false), false, true, false},
      {"vicreg", {"loss.vr_kind=vicreg"}, layout(2, 1, false), false, true, false},
      {"simsiam, 4 GPUs", {"loss.vr_kind=simsiam"}, layout(2, 4, false), false, true, true},
      {"simsiam, 4 GPUs, synchronised BN", {"loss.vr_kind=simsiam"}, layout(2, 4, true), false, false, true},
      {"byol, batch 1 x 4 GPUs, synchronised BN", {"loss.vr_kind=byol"}, layout(1, 4, true), false, false, true},
      {"byol, batch 4", {"loss.vr_kind=byol"}, layout(4, 1, false), false, false, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto cfg = config::default_config(c.sets);
    const auto w = small_batch_warnings(cfg.model, cfg.loss, c.batch);
    EXPECT_EQ(contains(w, "too small for standardised Barlow Twins"), c.barlow) << fmt::format("{}", fmt::join(w, "\n"));
    EXPECT_EQ(contains(w, "projection heads' BatchNorm"), c.heads) << fmt::format("{}", fmt::join(w, "\n"));
    EXPECT_EQ(contains(w, "predictor's BatchNorm"), c.predictor) << fmt::format("{}", fmt::join(w, "\n"));
    EXPECT_EQ(w.size(), static_cast<size_t>(c.barlow) + c.heads + c.predictor);
  }
}

TEST(BatchChecks, MessagesNameTheBatchAndTheFixes) {
  const auto cfg = config::default_config();
  const auto w = small_batch_warnings(cfg.model, cfg.loss, layout(2, 1, false));
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0],
            "global batch 2 (data.batch_size 2 x 1 process(es)) is too small for standardised Barlow Twins "
            "(loss.barlow_standardize: true): every dimension standardised over 2 samples is +-1, so every "
            "cross-correlation entry is +-1 and the Barlow term is constant with no gradient. Use more processes or a "
            "larger data.batch_size (global batch >= 3; the paper trains 2 per GPU on several GPUs), or the reference "
            "code's unstandardised variant (loss.barlow_standardize: false)");
  EXPECT_EQ(w[1],
            "the projection heads' BatchNorm normalises over 2 samples (data.batch_size 2 x 1 process(es), per "
            "process): its outputs are +-1 whatever the input (model.proj_out_bn: the projections themselves are "
            "+-1), so almost no CLIP gradient reaches the encoder. Use several processes with synchronised BatchNorm "
            "(model.sync_bn: true, as the reference's SyncBatchNorm) or a larger data.batch_size so that each "
            "BatchNorm sees >= 3 samples");
  const auto synced = small_batch_warnings(cfg.model, cfg.loss, layout(1, 2, true));
  ASSERT_EQ(synced.size(), 2u);
  EXPECT_NE(synced[1].find("over 2 samples (data.batch_size 1 x 2 process(es), synchronised): its outputs are +-1"),
            std::string::npos)
      << synced[1];
  EXPECT_NE(synced[1].find("Use more processes or a larger data.batch_size"), std::string::npos) << synced[1];
}

// The claim behind the Barlow warning, on the loss code itself: over 2 samples each standardised
// dimension is +-c / sqrt(c^2 + eps) (c = half the difference of the two samples), so
// C_ij = s_ij * a_i * b_j with a, b within eps of 1, and the gradient is ~eps.
TEST(BatchChecks, StandardisedBarlowOverTwoSamplesIsPlusMinusOne) {
  const double eps = 1e-5;
  auto z1 = torch::tensor({{0.0, 3.0, -1.0}, {2.0, 1.0, 1.0}}, torch::kFloat64).requires_grad_(true);
  auto z2 = torch::tensor({{5.0, 0.5, 2.0}, {3.0, -0.5, -2.0}}, torch::kFloat64).requires_grad_(true);
  losses::BarlowOptions o;  // standardised, lambda 0.0051, eps 1e-5
  const auto c = losses::barlow_cross_correlation(z1, z2, o);
  // half-differences (row 0 - row 1) / 2: z1 -> -1, 1, -1; z2 -> 1, 0.5, 2
  const std::vector<double> h1 = {-1, 1, -1}, h2 = {1, 0.5, 2};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double a = h1[i] / std::sqrt(h1[i] * h1[i] + eps), b = h2[j] / std::sqrt(h2[j] * h2[j] + eps);
      EXPECT_NEAR(c[i][j].item<double>(), a * b, 1e-12) << i << "," << j;
      EXPECT_NEAR(std::abs(c[i][j].item<double>()), 1.0, 4e-5) << i << "," << j;
    }
  }
  // Only sign agreements count: C_ii = -1, +1, -1 -> (1 - C_ii)^2 ~ 4, 0, 4; off-diagonal 6 x 1.
  const auto loss = losses::barlow_twins_loss(z1, z2, o);
  EXPECT_NEAR(loss.item<double>(), 8 + 0.0051 * 6, 1e-3);
  loss.backward();
  EXPECT_LT(z1.grad().abs().max().item<double>(), 1e-3) << z1.grad();
  EXPECT_LT(z2.grad().abs().max().item<double>(), 1e-3) << z2.grad();
  // A third sample: the same loss has a real gradient.
  auto y1 = torch::cat({z1.detach(), torch::tensor({{1.0, -2.0, 0.5}}, torch::kFloat64)}).requires_grad_(true);
  auto y2 = torch::cat({z2.detach(), torch::tensor({{-1.0, 2.0, 1.5}}, torch::kFloat64)}).requires_grad_(true);
  losses::barlow_twins_loss(y1, y2, o).backward();
  EXPECT_GT(y1.grad().abs().max().item<double>(), 0.1) << y1.grad();
}

}  // namespace
}  // namespace gtgm::train
