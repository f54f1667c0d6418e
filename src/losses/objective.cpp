#include "gtgm/losses/objective.h"

#include "gtgm/core/error.h"
#include "gtgm/dist/collectives.h"
#include "gtgm/losses/feature_losses.h"

namespace gtgm::losses {

const torch::Tensor& LossTerms::at(const std::string& name) const {
  std::string names;
  for (const auto& [n, v] : terms) {
    if (n == name) return v;
    names += (names.empty() ? "" : ", ") + n;
  }
  GTGM_THROW("loss term '{}' was not computed; available: {}", name, names.empty() ? "none" : names);
}

bool LossTerms::has(const std::string& name) const {
  for (const auto& [n, v] : terms) {
    if (n == name) return true;
  }
  return false;
}

GtgmObjectiveImpl::GtgmObjectiveImpl(const config::LossConfig& cfg, int64_t embed_dim) : cfg_(cfg) {
  if (cfg.vlp_weight == 0 && !uses_view_term()) {
    throw ConfigError("loss: every term has weight 0 (loss.vlp_weight and loss.vr_weight/vr_kind); nothing would be trained");
  }
  LogitScaleOptions so;
  so.temperature = cfg.temperature;
  so.learnable = cfg.learnable_temperature;
  so.max_scale = cfg.max_logit_scale;
  GTGM_CHECK(1.0 / cfg.temperature <= cfg.max_logit_scale,
             "loss.temperature={} gives a logit scale {} above loss.max_logit_scale={}", cfg.temperature,
             1.0 / cfg.temperature, cfg.max_logit_scale);
  logit_scale_ = register_module("logit_scale", LogitScale(so));
  if (uses_view_term() && (cfg.vr_kind == config::ViewTerm::BYOL || cfg.vr_kind == config::ViewTerm::SimSiam)) {
    GTGM_CHECK(embed_dim > 0, "GtgmObjective: embed_dim must be > 0 for loss.vr_kind={}",
               config::to_string(cfg.vr_kind));
    predictor_ = register_module("predictor", Predictor(PredictorOptions{embed_dim, cfg.predictor_hidden}));
  }
}

torch::Tensor GtgmObjectiveImpl::logit_scale() { return logit_scale_->forward(); }

LossTerms GtgmObjectiveImpl::forward(const GtgmInputs& in, const dist::Context* ctx) {
  LossTerms out;
  const ClipReduction red =
      cfg_.clip_reduction == config::ClipReduction::Sum ? ClipReduction::Sum : ClipReduction::Mean;
  auto add_total = [&](const torch::Tensor& v) { out.total = out.total.defined() ? out.total + v : v; };
  if (uses_text()) {
    GTGM_CHECK(in.t.defined(), "GtgmObjective: loss.vlp_weight={} needs the text projection t", cfg_.vlp_weight);
    GTGM_CHECK(in.v1.defined() && in.v2.defined(), "GtgmObjective: the CLIP terms need v1 and v2");
    const bool dist_on = ctx != nullptr && ctx->distributed();
    auto gather = [&](const torch::Tensor& x) { return dist_on ? dist::all_gather_with_grad(x, *ctx) : x; };
    GTGM_CHECK(in.v1.sizes() == in.t.sizes() && in.v2.sizes() == in.t.sizes(),
               "GtgmObjective: v1 {}, v2 {} and t {} must have the same shape [B, P]", in.v1.sizes(), in.v2.sizes(),
               in.t.sizes());
    // The text batch is gathered once for both views.
    const torch::Tensor t_all = gather(normalize_rows(in.t));
    const torch::Tensor scale = logit_scale_->forward();
    const torch::Tensor c1 = clip_loss_normalized(gather(normalize_rows(in.v1)), t_all, scale, red);
    const torch::Tensor c2 = clip_loss_normalized(gather(normalize_rows(in.v2)), t_all, scale, red);
    out.terms.emplace_back("clip_v1", c1);
    out.terms.emplace_back("clip_v2", c2);
    add_total(cfg_.vlp_weight * (c1 + c2));
  }
  if (uses_view_term()) {
    GTGM_CHECK(in.e1.defined() && in.e2.defined(), "GtgmObjective: loss.vr_kind={} needs the embeddings e1 and e2",
               config::to_string(cfg_.vr_kind));
    using config::ViewTerm;
    torch::Tensor vr;
    if (cfg_.vr_kind == ViewTerm::Barlow) {
      BarlowOptions o;
      o.lambda = cfg_.barlow_lambda;
      o.standardize = cfg_.barlow_standardize;
      vr = barlow_twins_loss(in.e1, in.e2, o, ctx);
    } else if (cfg_.vr_kind == ViewTerm::VICReg) {
      VicregOptions o;
      o.sim_weight = cfg_.vicreg_sim_weight;
      o.std_weight = cfg_.vicreg_std_weight;
      o.cov_weight = cfg_.vicreg_cov_weight;
      vr = vicreg_loss(in.e1, in.e2, o, ctx);
    } else if (cfg_.vr_kind == ViewTerm::SimSiam) {
      vr = simsiam_loss(predictor_->forward(in.e1), predictor_->forward(in.e2), in.e1, in.e2);
    } else if (cfg_.vr_kind == ViewTerm::BYOL) {
      GTGM_CHECK(in.target_e1.defined() && in.target_e2.defined(),
                 "GtgmObjective: loss.vr_kind=byol needs target_e1/target_e2 from the EMA target network");
      vr = byol_loss(predictor_->forward(in.e1), predictor_->forward(in.e2), in.target_e1, in.target_e2);
    } else {
      GTGM_THROW("GtgmObjective: unknown loss.vr_kind '{}'", config::to_string(cfg_.vr_kind));
    }
    out.terms.emplace_back(config::to_string(cfg_.vr_kind), vr);
    add_total(cfg_.vr_weight * vr);
  }
  return out;
}

}  // namespace gtgm::losses
