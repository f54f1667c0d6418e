#pragma once
#include <cstdint>
#include <string>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `loss.clip_reduction`: how the two CLIP directions combine.
enum class ClipReduction { Sum, Mean };
template <>
struct EnumNames<ClipReduction> {
  static constexpr std::pair<ClipReduction, const char*> items[] = {{ClipReduction::Sum, "sum"},
                                                                    {ClipReduction::Mean, "mean"}};
};

/// `loss.vr_kind`: the feature-wise view term.
enum class ViewTerm { Barlow, VICReg, BYOL, SimSiam, None };
template <>
struct EnumNames<ViewTerm> {
  static constexpr std::pair<ViewTerm, const char*> items[] = {{ViewTerm::Barlow, "barlow"},
                                                               {ViewTerm::VICReg, "vicreg"},
                                                               {ViewTerm::BYOL, "byol"},
                                                               {ViewTerm::SimSiam, "simsiam"},
                                                               {ViewTerm::None, "none"}};
};

/// `loss:` the GTGM objective vlp_weight * (clip(v1,t) + clip(v2,t)) + vr_weight * vr(E1,E2) and
/// the view-term baselines (losses::GtgmObjective).
struct LossConfig {
  double vlp_weight = 1.0;
  double temperature = 0.07;
  bool learnable_temperature = false;
  double max_logit_scale = 100.0;
  ClipReduction clip_reduction = ClipReduction::Sum;
  ViewTerm vr_kind = ViewTerm::Barlow;
  double vr_weight = 0.01;
  double barlow_lambda = 0.0051;
  bool barlow_standardize = true;
  double vicreg_sim_weight = 25.0;
  double vicreg_std_weight = 25.0;
  double vicreg_cov_weight = 1.0;
  int64_t predictor_hidden = 512;
  double byol_momentum = 0.996;

  template <class V>
  void visit(V& v) {
    v.field("vlp_weight", vlp_weight, "Weight of the image-text CLIP terms (0 = image-only ablation).", ge(0));
    v.field("temperature", temperature, "CLIP temperature (paper: 0.07); the initial value when learnable.", gt(0));
    v.field("learnable_temperature", learnable_temperature,
            "Learn log(1/temperature) (CLIP's logit scale), clamped to [1, max_logit_scale].");
    v.field("max_logit_scale", max_logit_scale, "Upper clamp of the learnable logit scale 1/temperature (CLIP: 100).",
            ge(1));
    v.field("clip_reduction", clip_reduction,
            "How the two CLIP directions combine: sum (the reference code: CE(i->t) + CE(t->i)) or mean (CLIP paper).");
    v.field("vr_kind", vr_kind, "Feature-wise view term between E1 and E2.");
    v.field("vr_weight", vr_weight, "Weight of the view term (paper: 0.01; 0 = text-only ablation).", ge(0));
    v.field("barlow_lambda", barlow_lambda, "Off-diagonal weight of Barlow Twins (paper: 0.0051).", ge(0));
    v.field("barlow_standardize", barlow_standardize,
            "Standardise dims over the batch (Barlow Twins); false = the reference code's unstandardised variant "
            "(also halved).");
    v.field("vicreg_sim_weight", vicreg_sim_weight, "VICReg invariance (MSE) weight (VICReg paper: 25).", ge(0));
    v.field("vicreg_std_weight", vicreg_std_weight, "VICReg variance (hinge on std) weight (VICReg paper: 25).", ge(0));
    v.field("vicreg_cov_weight", vicreg_cov_weight, "VICReg covariance weight (VICReg paper: 1).", ge(0));
    v.field("predictor_hidden", predictor_hidden, "Hidden width of the BYOL/SimSiam predictor MLP on E.", ge(1));
    v.field("byol_momentum", byol_momentum,
            "BYOL target EMA base momentum; raised to 1 along a cosine over train.steps.", between(0, 1));
  }
};

}  // namespace gtgm::config
