#include "gtgm/train/batch_checks.h"

#include <fmt/format.h>

namespace gtgm::train {

namespace {
// At 2 samples a standardised value (or a BatchNorm output) is +-1 up to eps; at 3 it is not.
constexpr int64_t kDegenerateBatch = 2;
}  // namespace

std::vector<std::string> small_batch_warnings(const config::ModelConfig& model, const config::LossConfig& loss,
                                              const BatchLayout& b) {
  std::vector<std::string> out;
  const std::string layout = fmt::format("data.batch_size {} x {} process(es)", b.local_batch, b.world_size);
  const bool view_term = loss.vr_weight > 0 && loss.vr_kind != config::ViewTerm::None;
  if (view_term && loss.vr_kind == config::ViewTerm::Barlow && loss.barlow_standardize &&
      b.global_batch() <= kDegenerateBatch) {
    out.push_back(fmt::format(
        "global batch {} ({}) is too small for standardised Barlow Twins (loss.barlow_standardize: true): every "
        "dimension standardised over {} samples is +-1, so every cross-correlation entry is +-1 and the Barlow term "
        "is constant with no gradient. Use more processes or a larger data.batch_size (global batch >= 3; the paper "
        "trains 2 per GPU on several GPUs), or the reference code's unstandardised variant "
        "(loss.barlow_standardize: false)",
        b.global_batch(), layout, b.global_batch()));
  }
  const std::string fix = b.bn_synced
                              ? "Use more processes or a larger data.batch_size"
                              : "Use several processes with synchronised BatchNorm (model.sync_bn: true, as the "
                                "reference's SyncBatchNorm) or a larger data.batch_size";
  if (loss.vlp_weight > 0 && b.bn_batch() <= kDegenerateBatch) {
    out.push_back(fmt::format(
        "the projection heads' BatchNorm normalises over {} samples ({}{}): its outputs are +-1 whatever the "
        "input{}, so almost no CLIP gradient reaches the encoder. {} so that each BatchNorm sees >= 3 samples",
        b.bn_batch(), layout, b.bn_synced ? ", synchronised" : ", per process",
        model.proj_out_bn ? " (model.proj_out_bn: the projections themselves are +-1)" : "", fix));
  }
  // The predictor's BatchNorm (losses::Predictor, a torch::nn::BatchNorm1d) is not one that
  // model.sync_bn synchronises: it always normalises the local batch.
  if (view_term && (loss.vr_kind == config::ViewTerm::BYOL || loss.vr_kind == config::ViewTerm::SimSiam) &&
      b.local_batch <= kDegenerateBatch) {
    out.push_back(fmt::format(
        "the {} predictor's BatchNorm normalises over {} samples ({}, per process; model.sync_bn does not reach "
        "it): its outputs are +-1 whatever the input, so the view term passes almost no gradient to the encoder. Use "
        "a larger data.batch_size so that it sees >= 3 samples",
        config::to_string(loss.vr_kind), b.local_batch, layout));
  }
  return out;
}

}  // namespace gtgm::train
