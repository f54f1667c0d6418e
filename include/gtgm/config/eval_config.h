#pragma once
#include <string>
#include <vector>

#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `eval:` sliding-window inference and metrics.
struct EvalConfig {
  double overlap = 0.5;
  std::string blend = "gaussian";
  bool mirror_tta = false;
  int sw_batch_size = 2;
  double sigma_scale = 0.125;
  std::string accumulate_dtype = "float32";
  std::vector<std::string> metrics = {"dice"};
  double nsd_tolerance_mm = 1.0;

  template <class V>
  void visit(V& v) {
    v.field("overlap", overlap, "Sliding-window overlap fraction.", between(0, 0.95));
    v.field("blend", blend, "Window blending.", one_of({"gaussian", "constant"}));
    v.field("mirror_tta", mirror_tta, "Average predictions over axis flips.");
    v.field("sw_batch_size", sw_batch_size, "Windows per forward pass.", ge(1));
    v.field("sigma_scale", sigma_scale, "Gaussian blending sigma as a fraction of the patch size (nnU-Net: 1/8).",
            gt(0));
    v.field("accumulate_dtype", accumulate_dtype,
            "Dtype of the on-device sliding-window accumulator (float16 halves its memory).",
            one_of({"float32", "float16"}));
    v.field("metrics", metrics, "Metrics: dice, hd95, nsd, voi, arand.");
    v.field("nsd_tolerance_mm", nsd_tolerance_mm, "Normalised surface Dice tolerance (mm).", ge(0));
  }
};

}  // namespace gtgm::config
