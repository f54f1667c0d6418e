#pragma once
#include <cstdint>
#include <string>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `finetune.task`.
enum class FinetuneTask { Segmentation, Affinity };
template <>
struct EnumNames<FinetuneTask> {
  static constexpr std::pair<FinetuneTask, const char*> items[] = {{FinetuneTask::Segmentation, "segmentation"},
                                                                   {FinetuneTask::Affinity, "affinity"}};
};

/// `finetune.affinity_merge`: the edge score of EM agglomeration.
enum class AffinityMerge { Mean, Median };
template <>
struct EnumNames<AffinityMerge> {
  static constexpr std::pair<AffinityMerge, const char*> items[] = {{AffinityMerge::Mean, "mean"},
                                                                    {AffinityMerge::Median, "median"}};
};

/// `finetune:` what `gtgm finetune` adds to data:/model:/optim:/train:/eval: (docs/finetuning.md):
/// the task and its loss, validation, EM agglomeration and the EM slice split.
struct FinetuneConfig {
  FinetuneTask task = FinetuneTask::Segmentation;
  double dice_weight = 1.0;
  double ce_weight = 1.0;
  bool batch_dice = false;
  bool include_background = false;
  double dice_smooth = 1e-5;
  bool sigmoid_before_loss = false;
  bool affinity_balance = true;
  double affinity_threshold = 0.5;
  AffinityMerge affinity_merge = AffinityMerge::Mean;
  double em_train_z = 0.6;
  int validate_cases = 0;
  bool predict_test = true;

  template <class V>
  void visit(V& v) {
    v.field("task", task,
            "segmentation: semantic labels, Dice+CE (MSD); affinity: 3 nearest-neighbour affinities from neuron ids, "
            "then watershed + agglomeration (CREMI; needs model.head: affinity).");
    v.field("dice_weight", dice_weight, "Weight of the soft-Dice term of DiceCE (paper: DiceCE, 1).", ge(0));
    v.field("ce_weight", ce_weight, "Weight of the cross-entropy term of DiceCE (paper: DiceCE, 1).", ge(0));
    v.field("batch_dice", batch_dice,
            "Soft Dice over the whole batch per class (nnU-Net batch_dice), else per sample.");
    v.field("include_background", include_background, "Class 0 in the soft-Dice mean.");
    v.field("dice_smooth", dice_smooth, "Smoothing added to the soft-Dice numerator and denominator.", ge(0));
    v.field("sigmoid_before_loss", sigmoid_before_loss,
            "The reference's quirk: logits z -> sigmoid(z) before DiceCE's softmax and CE (finetune/resunet.py:110 "
            "returns sigmoid(z), finetune/task1.py:229 DiceCELoss(softmax=True)); squeezes every probability into "
            "[1/(1 + (K-1)e), e/(e + K-1)], so off in the paper configs (docs/fidelity.md). Training loss only.");
    v.field("affinity_balance", affinity_balance,
            "Affinity task: class-balanced BCE weights per channel (each of affine / not affine counts half).");
    v.field("affinity_threshold", affinity_threshold,
            "Affinity task: watershed + agglomeration threshold (paper: 0.5).", between(0, 1));
    v.field("affinity_merge", affinity_merge,
            "Affinity task: agglomeration edge score: mean affinity (the reference's NeuronSeg/inference.py:190) or "
            "median (waterz HistogramQuantileAffinity 50 over 256 bins, NeuronSeg/main.py:276).");
    v.field("em_train_z", em_train_z,
            "Affinity task: fraction of each volume's slices (from the first) used for training; the rest is the test "
            "part (CREMI: first 75 of 125 slices = 0.6). data.label_fraction then takes the first part of these.",
            in_open_closed(0, 1));
    v.field("validate_cases", validate_cases,
            "Held-out cases used by the periodic validation (the first N of the test part); 0 = all of them.", ge(0));
    v.field(
        "predict_test", predict_test,
        "After training: predict every held-out case with the best checkpoint into RUN_DIR/predictions and score it.");
  }
};

}  // namespace gtgm::config
