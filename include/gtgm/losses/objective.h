#pragma once
/// The GTGM pretraining objective, built from config::LossConfig:
///   total = vlp_weight * (clip(v1, t) + clip(v2, t)) + vr_weight * vr(E1, E2)
/// with vr one of barlow (paper), vicreg, byol, simsiam or none. Ablations are config changes:
/// image-only = vlp_weight 0 (no text needed), text-only = vr_weight 0 or vr_kind none.
/// A module: it owns the (learnable) logit scale and the BYOL/SimSiam predictor, whose parameters
/// belong in the optimiser and the checkpoint ("logit_scale.*", "predictor.*").
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "gtgm/config/loss_config.h"
#include "gtgm/dist/context.h"
#include "gtgm/losses/byol.h"
#include "gtgm/losses/clip.h"

namespace gtgm::losses {

/// One step's inputs (B = local batch).
struct GtgmInputs {
  torch::Tensor v1, v2;  // [B, P] image projections of views 1 and 2
  torch::Tensor t;       // [B, P] text projection (may be undefined when vlp_weight == 0)
  torch::Tensor e1, e2;  // [B, E] image embeddings (pooled encoder features)
  /// BYOL only: [B, E] embeddings of views 1 and 2 from the EMA target network (no gradient).
  torch::Tensor target_e1, target_e2;
};

/// Named loss terms (unweighted, [] scalars, in computation order) and the weighted total.
struct LossTerms {
  std::vector<std::pair<std::string, torch::Tensor>> terms;
  torch::Tensor total;
  /// The term called `name`; throws naming the available ones.
  const torch::Tensor& at(const std::string& name) const;
  bool has(const std::string& name) const;
};

class GtgmObjectiveImpl : public torch::nn::Module {
 public:
  /// embed_dim: width of E (the predictor's width for byol/simsiam).
  explicit GtgmObjectiveImpl(const config::LossConfig& cfg, int64_t embed_dim = 2048);
  /// Terms "clip_v1", "clip_v2" (when vlp_weight > 0), and "barlow" / "vicreg" / "byol" / "simsiam"
  /// (when vr_weight > 0). With a distributed context, CLIP negatives and the Barlow/VICReg
  /// statistics span the global batch.
  LossTerms forward(const GtgmInputs& in, const dist::Context* ctx = nullptr);
  /// The current 1/temperature, [].
  torch::Tensor logit_scale();
  const config::LossConfig& config() const { return cfg_; }
  /// Whether the text branch is used (vlp_weight > 0).
  bool uses_text() const { return cfg_.vlp_weight > 0; }
  /// Whether the view term is used (vr_weight > 0 and vr_kind != none).
  bool uses_view_term() const { return cfg_.vr_weight > 0 && cfg_.vr_kind != config::ViewTerm::None; }
  /// byol: the trainer keeps an EMA target network and passes target_e1/target_e2.
  bool needs_target_network() const { return uses_view_term() && cfg_.vr_kind == config::ViewTerm::BYOL; }

 private:
  config::LossConfig cfg_;
  LogitScale logit_scale_{nullptr};
  Predictor predictor_{nullptr};
};
TORCH_MODULE(GtgmObjective);

}  // namespace gtgm::losses
