#pragma once
#include <string>

#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `loss:` the GTGM objective clip(v1,t) + clip(v2,t) + w * barlow(E1,E2) and baselines.
struct LossConfig {
  double vlp_weight = 1.0;
  double temperature = 0.07;
  bool learnable_temperature = false;
  std::string vr_kind = "barlow";
  double vr_weight = 0.01;
  double barlow_lambda = 0.0051;
  bool barlow_standardize = true;

  template <class V>
  void visit(V& v) {
    v.field("vlp_weight", vlp_weight, "Weight of the image-text CLIP term (0 = image-only ablation).", ge(0));
    v.field("temperature", temperature, "CLIP temperature (paper: 0.07).", gt(0));
    v.field("learnable_temperature", learnable_temperature, "Learn log(1/temperature), clamped.");
    v.field("vr_kind", vr_kind, "Feature-wise view term.", one_of({"barlow", "vicreg", "byol", "simsiam", "none"}));
    v.field("vr_weight", vr_weight, "Weight of the view term (paper: 0.01; 0 = text-only ablation).", ge(0));
    v.field("barlow_lambda", barlow_lambda, "Off-diagonal weight of Barlow Twins (paper: 0.0051).", ge(0));
    v.field("barlow_standardize", barlow_standardize,
            "Standardise dims over the batch (Barlow Twins); false = the reference code's unstandardised variant.");
  }
};

}  // namespace gtgm::config
