// GtgmObjective: parity with the reference on the paper's configuration, ablations as config
// changes, named terms, and gradient flow (image encoder yes, frozen text encoder no).
#include <torch/torch.h>

#include <fstream>

#include "gtgm/config/loss_config.h"
#include "gtgm/losses/objective.h"
#include "test_util.h"

namespace gtgm::losses {
namespace {

torch::Tensor golden(const std::string& key) {
  static const auto dict = [] {
    std::ifstream in(std::string(GTGM_TEST_DATA_DIR) + "/losses/losses_golden.pt", std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return torch::pickle_load(bytes).toGenericDict();
  }();
  return dict.at(key).toTensor().clone();
}

void expect_objective_close(const torch::Tensor& a, const torch::Tensor& e, const std::string& what) {
  ASSERT_EQ(a.sizes(), e.sizes()) << what;
  const double err = ((a.detach().to(torch::kFloat64) - e).abs() / e.abs().clamp_min(1.0)).max().item<double>();
  EXPECT_LE(err, 1e-5) << what;
}

TEST(GtgmObjective, PaperConfigurationMatchesReference) {
  config::LossConfig cfg;  // clip sum, vlp 1, barlow standardised, vr 0.01, T 0.07
  GtgmObjective objective(cfg, 10);
  GtgmInputs in;
  in.v1 = golden("objective/v1").requires_grad_();
  in.v2 = golden("objective/v2").requires_grad_();
  in.t = golden("objective/t").requires_grad_();
  in.e1 = golden("objective/e1").requires_grad_();
  in.e2 = golden("objective/e2").requires_grad_();
  const LossTerms out = objective->forward(in);
  ASSERT_EQ(out.terms.size(), 3u);
  EXPECT_EQ(out.terms[0].first, "clip_v1");
  EXPECT_EQ(out.terms[1].first, "clip_v2");
  EXPECT_EQ(out.terms[2].first, "barlow");
  expect_objective_close(out.at("clip_v1"), golden("objective/clip_v1"), "clip_v1");
  expect_objective_close(out.at("clip_v2"), golden("objective/clip_v2"), "clip_v2");
  expect_objective_close(out.at("barlow"), golden("objective/barlow"), "barlow");
  expect_objective_close(out.total, golden("objective/total"), "total");
  out.total.backward();
  expect_objective_close(in.v1.grad(), golden("objective/grad_v1"), "grad v1");
  expect_objective_close(in.t.grad(), golden("objective/grad_t"), "grad t");
  expect_objective_close(in.e1.grad(), golden("objective/grad_e1"), "grad e1");
  EXPECT_THROW_MSG(out.at("vicreg"), "loss term 'vicreg' was not computed; available: clip_v1, clip_v2, barlow");
}

GtgmInputs random_inputs(int64_t b = 6, int64_t p = 8, int64_t e = 10) {
  GtgmInputs in;
  in.v1 = torch::randn({b, p});
  in.v2 = torch::randn({b, p});
  in.t = torch::randn({b, p});
  in.e1 = torch::randn({b, e});
  in.e2 = torch::randn({b, e});
  return in;
}

TEST(GtgmObjective, AblationsAreConfigChanges) {
  torch::manual_seed(0);
  const GtgmInputs in = random_inputs();
  config::LossConfig image_only;
  image_only.vlp_weight = 0;
  GtgmInputs no_text = in;
  no_text.t = torch::Tensor();
  const auto a = GtgmObjective(image_only, 10)->forward(no_text);
  ASSERT_EQ(a.terms.size(), 1u);
  EXPECT_EQ(a.terms[0].first, "barlow");
  EXPECT_NEAR(a.total.item<double>(), 0.01 * a.at("barlow").item<double>(), 1e-6);

  config::LossConfig text_only;
  text_only.vr_weight = 0;
  const auto b = GtgmObjective(text_only, 10)->forward(in);
  ASSERT_EQ(b.terms.size(), 2u);
  EXPECT_NEAR(b.total.item<double>(), b.at("clip_v1").item<double>() + b.at("clip_v2").item<double>(), 1e-5);

  config::LossConfig none;
  none.vlp_weight = 0;
  none.vr_kind = config::ViewTerm::None;
  EXPECT_THROW_MSG(GtgmObjective(none, 10), "every term has weight 0");

  config::LossConfig paper;
  EXPECT_THROW_MSG(GtgmObjective(paper, 10)->forward(no_text), "loss.vlp_weight=1 needs the text projection t");
}

TEST(GtgmObjective, EveryViewTermKindRuns) {
  torch::manual_seed(1);
  for (const std::string kind : {"barlow", "vicreg", "simsiam", "byol"}) {
    config::LossConfig cfg;
    cfg.vr_kind = *config::parse_enum<config::ViewTerm>(kind);
    cfg.learnable_temperature = true;
    GtgmObjective objective(cfg, 10);
    GtgmInputs in = random_inputs();
    if (kind == "byol") {
      EXPECT_TRUE(objective->needs_target_network());
      EXPECT_THROW_MSG(objective->forward(in), "needs target_e1/target_e2");
      in.target_e1 = torch::randn({6, 10});
      in.target_e2 = torch::randn({6, 10});
    }
    const auto out = objective->forward(in);
    EXPECT_TRUE(out.has(kind)) << kind;
    EXPECT_TRUE(std::isfinite(out.total.item<double>())) << kind;
    out.total.backward();
    // The learnable logit scale (and the predictor, for byol/simsiam) receive gradients.
    for (const auto& p : objective->named_parameters()) {
      EXPECT_TRUE(p.value().grad().defined()) << kind << ": " << p.key();
    }
    const bool has_predictor = kind == "byol" || kind == "simsiam";
    EXPECT_EQ(objective->named_parameters().contains("predictor.fc1.weight"), has_predictor) << kind;
    EXPECT_TRUE(objective->named_parameters().contains("logit_scale.log_scale")) << kind;
  }
}

TEST(GtgmObjective, GradientReachesImageEncoderNotFrozenTextEncoder) {
  torch::manual_seed(2);
  torch::nn::Linear image_encoder(12, 10), vision_proj(10, 8), text_encoder(7, 9), text_proj(9, 8);
  for (auto& p : text_encoder->parameters()) p.set_requires_grad(false);
  GtgmObjective objective(config::LossConfig{}, 10);
  const auto x1 = torch::randn({6, 12}), x2 = torch::randn({6, 12}), tokens = torch::randn({6, 7});
  GtgmInputs in;
  in.e1 = image_encoder(x1);
  in.e2 = image_encoder(x2);
  in.v1 = vision_proj(in.e1);
  in.v2 = vision_proj(in.e2);
  {
    torch::NoGradGuard frozen;  // as the trainer runs a frozen text encoder
    in.t = text_encoder(tokens);
  }
  in.t = text_proj(in.t);
  objective->forward(in).total.backward();
  for (auto& p : image_encoder->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
  }
  for (auto& p : text_proj->parameters()) EXPECT_TRUE(p.grad().defined());
  for (auto& p : text_encoder->parameters()) EXPECT_FALSE(p.grad().defined());
}

}  // namespace
}  // namespace gtgm::losses
