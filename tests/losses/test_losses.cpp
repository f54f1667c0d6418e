// Parity of every loss with scripts/reference/losses_reference.py (plain PyTorch), plus shapes,
// error messages and the helpers (momentum schedule, EMA, deep-supervision weights).
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <map>

#include "gtgm/losses/byol.h"
#include "gtgm/losses/clip.h"
#include "gtgm/losses/feature_losses.h"
#include "gtgm/losses/segmentation.h"
#include "test_util.h"

namespace gtgm::losses {
namespace {

using Golden = std::map<std::string, torch::Tensor>;

const Golden& golden() {
  static const Golden g = [] {
    const std::string path = std::string(GTGM_TEST_DATA_DIR) + "/losses/losses_golden.pt";
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "missing " << path << " (run scripts/reference/losses_reference.py)";
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Golden out;
    for (const auto& item : torch::pickle_load(bytes).toGenericDict()) {
      out[item.key().toStringRef()] = item.value().toTensor();
    }
    return out;
  }();
  return g;
}

torch::Tensor G(const std::string& key) {
  const auto it = golden().find(key);
  if (it == golden().end()) {
    ADD_FAILURE() << "golden has no tensor " << key;
    return torch::zeros({1});
  }
  return it->second.clone();
}

// |a - b| <= 1e-5 * max(1, |b|) elementwise.
void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what << ": undefined";
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const torch::Tensor a = actual.detach().to(torch::kFloat64), e = expected.to(torch::kFloat64);
  const double err = ((a - e).abs() / e.abs().clamp_min(1.0)).max().item<double>();
  EXPECT_LE(err, 1e-5) << what << ": max relative error " << err << "\nactual " << a << "\nexpected " << e;
}

torch::Tensor leaf(const torch::Tensor& t) { return t.detach().clone().requires_grad_(true); }

TEST(Losses, ClipMatchesReferenceForBothReductions) {
  for (const std::string red : {"sum", "mean"}) {
    const std::string k = "clip_" + red;
    auto img = leaf(G(k + "/image")), txt = leaf(G(k + "/text"));
    const auto loss = clip_loss(img, txt, 0.07, red == "sum" ? ClipReduction::Sum : ClipReduction::Mean);
    EXPECT_EQ(loss.dim(), 0);
    loss.backward();
    expect_close(loss, G(k + "/loss"), k + " loss");
    expect_close(img.grad(), G(k + "/grad_image"), k + " grad image");
    expect_close(txt.grad(), G(k + "/grad_text"), k + " grad text");
  }
}

TEST(Losses, LearnableLogitScaleMatchesReferenceAndClamps) {
  for (const std::string k : {"clip_learnable", "clip_clamped"}) {
    LogitScaleOptions o;
    o.temperature = G(k + "/temperature").item<double>();
    o.max_scale = G(k + "/max_scale").item<double>();
    o.learnable = true;
    LogitScale scale(o);
    auto img = leaf(G(k + "/image")), txt = leaf(G(k + "/text"));
    const auto loss = clip_loss(img, txt, scale->forward(), ClipReduction::Mean);
    loss.backward();
    expect_close(loss, G(k + "/loss"), k + " loss");
    expect_close(img.grad(), G(k + "/grad_image"), k + " grad image");
    const auto params = scale->named_parameters();
    ASSERT_EQ(params.size(), 1u);
    expect_close(params["log_scale"].grad(), G(k + "/grad_log_scale"), k + " grad log_scale");
  }
  // Clamped: 1/0.005 = 200 > 100 -> the scale is 100 and the parameter gets no gradient.
  LogitScale clamped(LogitScaleOptions{0.005, true, 100.0});
  EXPECT_NEAR(clamped->forward().item<double>(), 100.0, 1e-3);
  // Fixed: a buffer, not a parameter (still saved in checkpoints).
  LogitScale fixed(LogitScaleOptions{0.07, false, 100.0});
  EXPECT_EQ(fixed->parameters().size(), 0u);
  EXPECT_EQ(fixed->buffers().size(), 1u);
  EXPECT_NEAR(fixed->forward().item<double>(), 1.0 / 0.07, 1e-4);
}

TEST(Losses, ClipIsLowForMatchedPairsAndChecksShapes) {
  torch::manual_seed(0);
  const auto x = torch::randn({8, 16});
  EXPECT_LT(clip_loss(x, x, 0.07).item<double>(), 0.01);
  EXPECT_GT(clip_loss(x, torch::randn({8, 16}), 0.07).item<double>(), 1.0);
  EXPECT_NEAR(clip_accuracy(x, x).item<double>(), 1.0, 1e-9);
  EXPECT_THROW_MSG(clip_loss(torch::randn({4, 8}), torch::randn({4, 9}), 0.07), "same shape, got image [4, 8]");
  EXPECT_THROW_MSG(clip_loss(x, x, -1.0), "temperature must be > 0");
}

TEST(Losses, BarlowTwinsMatchesReferenceBothVariants) {
  for (const bool standardize : {true, false}) {
    const std::string k = standardize ? "barlow" : "barlow_unstandardized";
    auto z1 = leaf(G(k + "/z1")), z2 = leaf(G(k + "/z2"));
    BarlowOptions o;
    o.standardize = standardize;
    const auto loss = barlow_twins_loss(z1, z2, o);
    loss.backward();
    expect_close(loss, G(k + "/loss"), k + " loss");
    expect_close(z1.grad(), G(k + "/grad_z1"), k + " grad z1");
    expect_close(z2.grad(), G(k + "/grad_z2"), k + " grad z2");
  }
  // Identical views: diag(C) = var / (var + eps) ~ 1, so the invariance part vanishes; the
  // cross-correlation of a view with an affine copy of itself is the same (standardisation).
  torch::manual_seed(1);
  const auto z = torch::randn({64, 4}, torch::kFloat64);
  BarlowOptions no_off;
  no_off.lambda = 0;
  EXPECT_LT(barlow_twins_loss(z, z, no_off).item<double>(), 1e-8);
  EXPECT_NEAR(barlow_twins_loss(z, z * 3.0 + 2.0).item<double>(), barlow_twins_loss(z, z).item<double>(), 1e-7);
  EXPECT_THROW_MSG(barlow_twins_loss(torch::randn({1, 4}), torch::randn({1, 4})), "batch of at least 2");
  EXPECT_THROW_MSG(barlow_twins_loss(torch::randn({4, 4}), torch::randn({4, 5})), "same shape, got [4, 4] and [4, 5]");
}

TEST(Losses, VicregMatchesReference) {
  auto z1 = leaf(G("vicreg/z1")), z2 = leaf(G("vicreg/z2"));
  const auto loss = vicreg_loss(z1, z2);
  loss.backward();
  expect_close(loss, G("vicreg/loss"), "vicreg loss");
  expect_close(z1.grad(), G("vicreg/grad_z1"), "vicreg grad z1");
  expect_close(z2.grad(), G("vicreg/grad_z2"), "vicreg grad z2");
}

TEST(Losses, ByolAndSimsiamMatchReferenceAndStopGradients) {
  for (const std::string k : {"byol", "simsiam"}) {
    auto p1 = leaf(G(k + "/p1")), p2 = leaf(G(k + "/p2")), z1 = leaf(G(k + "/z1")), z2 = leaf(G(k + "/z2"));
    const auto loss = k == "byol" ? byol_loss(p1, p2, z1, z2) : simsiam_loss(p1, p2, z1, z2);
    loss.backward();
    expect_close(loss, G(k + "/loss"), k + " loss");
    expect_close(p1.grad(), G(k + "/grad_p1"), k + " grad p1");
    expect_close(p2.grad(), G(k + "/grad_p2"), k + " grad p2");
    EXPECT_FALSE(z1.grad().defined()) << k << ": targets must be detached";
    EXPECT_FALSE(z2.grad().defined());
  }
}

TEST(Losses, ByolMomentumScheduleAndEma) {
  const auto steps = G("byol_momentum/steps"), values = G("byol_momentum/values");
  for (int64_t i = 0; i < steps.size(0); ++i) {
    EXPECT_NEAR(byol_momentum(steps[i].item<int64_t>(), 100, 0.996), values[i].item<double>(), 1e-12);
  }
  EXPECT_THROW_MSG(byol_momentum(1, 0), "total_steps must be > 0");

  torch::manual_seed(3);
  Predictor online(PredictorOptions{6, 3}), target(PredictorOptions{6, 3});
  init_target_(*target, *online);
  for (const auto& p : target->named_parameters()) {
    EXPECT_FALSE(p.value().requires_grad()) << p.key();
    EXPECT_TRUE(torch::equal(p.value(), online->named_parameters()[p.key()])) << p.key();
  }
  const auto before = target->named_parameters()["fc1.weight"].clone();
  {
    torch::NoGradGuard ng;
    online->named_parameters()["fc1.weight"].add_(1.0);
  }
  ema_update_(*target, *online, 0.9);
  // 0.9 * w + 0.1 * (w + 1) = w + 0.1
  EXPECT_TRUE(torch::allclose(target->named_parameters()["fc1.weight"], before + 0.1, 1e-6, 1e-6));
  Predictor other(PredictorOptions{6, 4});
  EXPECT_THROW_MSG(ema_update_(*other, *online, 0.9), "'fc1.weight' has shape [4, 6] in the target but [3, 6] online");
  EXPECT_EQ(online->forward(torch::randn({5, 6})).sizes(), (std::vector<int64_t>{5, 6}));
  EXPECT_THROW_MSG(online->forward(torch::randn({5, 7})), "expected [N, 6], got [5, 7]");
}

TEST(Losses, DiceCeMatchesReferenceForEveryOption) {
  for (const bool batch_dice : {false, true}) {
    for (const bool bg : {false, true}) {
      const std::string k = fmt::format("dice_ce_b{}_bg{}", int(batch_dice), int(bg));
      auto logits = leaf(G(k + "/logits"));
      DiceCeOptions o;
      o.batch_dice = batch_dice;
      o.include_background = bg;
      const auto t = dice_ce_loss(logits, G(k + "/target"), o);
      t.total.backward();
      expect_close(t.total, G(k + "/total"), k + " total");
      expect_close(t.dice, G(k + "/dice"), k + " dice");
      expect_close(t.ce, G(k + "/ce"), k + " ce");
      expect_close(logits.grad(), G(k + "/grad_logits"), k + " grad");
    }
  }
  // finetune.sigmoid_before_loss: the reference's DiceCE of ResUNet's sigmoid outputs.
  {
    auto z = leaf(G("dice_ce_sigmoid_first/logits"));
    DiceCeOptions o;
    o.include_background = true;
    o.sigmoid_first = true;
    const auto t = dice_ce_loss(z, G("dice_ce_sigmoid_first/target"), o);
    t.total.backward();
    expect_close(t.total, G("dice_ce_sigmoid_first/total"), "sigmoid_first total");
    expect_close(t.ce, G("dice_ce_sigmoid_first/ce"), "sigmoid_first ce");
    expect_close(z.grad(), G("dice_ce_sigmoid_first/grad_logits"), "sigmoid_first grad");
    // softmax of values in (0, 1): the CE of 3 classes stays above log(1 + 2 / e) = 0.551 however
    // large the right logit grows, where the plain loss goes to 0.
    auto big = torch::full({1, 3, 2, 2, 2}, -50.0, torch::kFloat64);
    big.select(1, 1).fill_(50.0);
    const auto lab = torch::ones({1, 1, 2, 2, 2}, torch::kLong);
    EXPECT_NEAR(dice_ce_loss(big, lab, o).ce.item<double>(), std::log(1 + 2 / std::exp(1.0)), 1e-9);
    EXPECT_LT(dice_ce_loss(big, lab).ce.item<double>(), 1e-12);
  }
  // A target without the channel dim is accepted; bad labels and shapes are named.
  const auto logits = torch::randn({2, 3, 4, 4, 4});
  const auto labels = torch::randint(0, 3, {2, 4, 4, 4}, torch::kLong);
  EXPECT_NEAR(dice_ce_loss(logits, labels).total.item<double>(),
              dice_ce_loss(logits, labels.unsqueeze(1)).total.item<double>(), 1e-12);
  EXPECT_THROW_MSG(dice_ce_loss(logits, labels + 3), "labels must be in [0, 3) (the network's 3 output classes: model.num_classes), found values in [3, 5]");
  EXPECT_THROW_MSG(dice_ce_loss(logits, torch::zeros({2, 1, 4, 4, 5}, torch::kLong)), "does not match logits");
  EXPECT_THROW_MSG(dice_ce_loss(logits, torch::zeros({2, 1, 4, 4, 4})), "must hold integer labels");
}

TEST(Losses, DeepSupervisionWeightsAndLoss) {
  const auto w3 = deep_supervision_weights(3);
  ASSERT_EQ(w3.size(), 3u);
  EXPECT_NEAR(w3[0], 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(w3[1], 1.0 / 3.0, 1e-12);
  EXPECT_EQ(w3[2], 0.0);
  EXPECT_EQ(deep_supervision_weights(1), std::vector<double>{1.0});
  EXPECT_THROW_MSG(deep_supervision_weights(0), "at least one output");

  auto full = leaf(G("deep_supervision/full")), half = leaf(G("deep_supervision/half")),
       low = leaf(G("deep_supervision/low"));
  const auto wt = G("deep_supervision/weights");
  const std::vector<double> weights{wt[0].item<double>(), wt[1].item<double>(), wt[2].item<double>()};
  const auto t = deep_supervision_loss({full, half, low}, G("deep_supervision/target"), weights);
  t.total.backward();
  expect_close(t.total, G("deep_supervision/total"), "deep supervision total");
  expect_close(full.grad(), G("deep_supervision/grad_full"), "grad full");
  expect_close(half.grad(), G("deep_supervision/grad_half"), "grad half");
  EXPECT_FALSE(low.grad().defined()) << "weight 0 output must not be used";
  EXPECT_THROW_MSG(deep_supervision_loss({full}, G("deep_supervision/target"), weights), "1 outputs but 3 weights");
}

TEST(Losses, AffinityLossMatchesReference) {
  for (const bool balance : {false, true}) {
    for (const bool use_mask : {false, true}) {
      const std::string k = fmt::format("affinity_b{}_m{}", int(balance), int(use_mask));
      auto logits = leaf(G(k + "/logits"));
      AffinityLossOptions o;
      o.balance = balance;
      const auto loss = affinity_loss(logits, G(k + "/target"), use_mask ? G(k + "/mask") : torch::Tensor(), o);
      loss.backward();
      expect_close(loss, G(k + "/loss"), k + " loss");
      expect_close(logits.grad(), G(k + "/grad_logits"), k + " grad");
    }
  }
  EXPECT_THROW_MSG(affinity_loss(torch::zeros({1, 3, 2, 2, 2}), torch::zeros({1, 2, 2, 2, 2})), "of the same shape");
  EXPECT_THROW_MSG(affinity_loss(torch::zeros({1, 3, 2, 2, 2}), torch::zeros({1, 3, 2, 2, 2}), torch::ones({1, 2, 2, 2, 2})),
                   "mask [1, 2, 2, 2, 2] does not match logits");
}

TEST(Losses, ResizeLabelsKeepsIntegerLabels) {
  const auto labels = torch::arange(16, torch::kLong).view({1, 1, 1, 4, 4});
  const auto small = resize_labels(labels, {1, 2, 2});
  EXPECT_EQ(small.scalar_type(), torch::kLong);
  const auto flat = small.flatten().contiguous();
  const std::vector<int64_t> values(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
  EXPECT_EQ(values, (std::vector<int64_t>{0, 2, 8, 10}));  // nearest: every other voxel
}

}  // namespace
}  // namespace gtgm::losses
