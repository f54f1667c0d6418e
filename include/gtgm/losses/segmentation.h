#pragma once
/// Segmentation losses for fine-tuning: soft Dice + cross-entropy on softmax logits (nnU-Net /
/// MONAI style, batch or per-sample Dice), a deep-supervision weighting helper, and the weighted
/// binary cross-entropy on 3 nearest-neighbour affinity channels used for EM (CREMI).
#include <torch/torch.h>

#include <vector>

namespace gtgm::losses {

struct DiceCeOptions {
  bool batch_dice = false;          // Dice over the whole batch per class (nnU-Net's batch_dice), else per sample
  bool include_background = false;  // class 0 in the Dice mean
  double smooth = 1e-5;             // added to numerator and denominator
  double dice_weight = 1.0;
  double ce_weight = 1.0;
  // The reference's quirk (finetune/resunet.py:110 returns sigmoid(z); finetune/task1.py:229's
  // DiceCELoss(softmax=True) then takes the softmax and the CE of those sigmoids): z -> sigmoid(z)
  // before both terms.
  bool sigmoid_first = false;
};

/// Named parts of a Dice+CE loss ([] scalars).
struct DiceCeTerms {
  torch::Tensor total;  // ce_weight * ce + dice_weight * dice
  torch::Tensor dice;   // 1 - mean soft Dice
  torch::Tensor ce;     // mean voxel cross-entropy
};

/// logits [B, C, *spatial] (C >= 2); target [B, 1, *spatial] or [B, *spatial] int64 in [0, C).
/// Soft Dice per class: (2 tp + s) / (2 tp + fp + fn + s) with softmax probabilities (of sigmoid(logits)
/// with sigmoid_first).
DiceCeTerms dice_ce_loss(const torch::Tensor& logits, const torch::Tensor& target, const DiceCeOptions& options = {});

/// nnU-Net's deep-supervision weights for n outputs (highest resolution first): 1, 1/2, 1/4, ...,
/// the lowest resolution 0 when n > 1, normalised to sum 1.
std::vector<double> deep_supervision_weights(int n);

/// Sum over outputs of weight_i * dice_ce(output_i, target resized to output_i's spatial size by
/// nearest neighbour). outputs: [B, C, *spatial_i], highest resolution first; weights.size() == outputs.size().
DiceCeTerms deep_supervision_loss(const std::vector<torch::Tensor>& outputs, const torch::Tensor& target,
                                  const std::vector<double>& weights, const DiceCeOptions& options = {});

/// Integer labels [B, 1, *spatial] -> the same at `size` (nearest neighbour; labels stay labels).
torch::Tensor resize_labels(const torch::Tensor& labels, at::IntArrayRef size);

struct AffinityLossOptions {
  bool balance = true;     // class-balanced weights per channel: each class contributes half
  double min_ratio = 0.05; // the positive fraction is clamped to [min_ratio, 1 - min_ratio] for the weights
};

/// Weighted binary cross-entropy on affinity logits [B, A, *spatial] (A = 3 for z, y, x) against
/// targets in {0, 1} of the same shape; `mask` (optional, [B, A or 1, *spatial], 0 = ignore).
/// With balance, per channel f = fraction of positives over the batch (masked), weights
/// 0.5 / f for positives and 0.5 / (1 - f) for negatives (detached). Returns the weighted mean, [].
torch::Tensor affinity_loss(const torch::Tensor& logits, const torch::Tensor& target,
                            const torch::Tensor& mask = {}, const AffinityLossOptions& options = {});

}  // namespace gtgm::losses
