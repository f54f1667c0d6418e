#pragma once
#include <string>
#include <vector>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `eval.blend`: sliding-window blending.
enum class Blend { Gaussian, Constant };
template <>
struct EnumNames<Blend> {
  static constexpr std::pair<Blend, const char*> items[] = {{Blend::Gaussian, "gaussian"},
                                                            {Blend::Constant, "constant"}};
};

/// `eval.accumulate_dtype`.
enum class AccumulateDtype { Float32, Float16 };
template <>
struct EnumNames<AccumulateDtype> {
  static constexpr std::pair<AccumulateDtype, const char*> items[] = {{AccumulateDtype::Float32, "float32"},
                                                                      {AccumulateDtype::Float16, "float16"}};
};

/// `eval:` sliding-window inference and metrics.
struct EvalConfig {
  double overlap = 0.5;
  Blend blend = Blend::Gaussian;
  bool mirror_tta = false;
  int sw_batch_size = 2;
  double sigma_scale = 0.125;
  AccumulateDtype accumulate_dtype = AccumulateDtype::Float32;
  std::vector<std::string> metrics = {"dice"};
  double nsd_tolerance_mm = 1.0;

  template <class V>
  void visit(V& v) {
    v.field("overlap", overlap, "Sliding-window overlap fraction.", between(0, 0.95));
    v.field("blend", blend, "Window blending.");
    v.field("mirror_tta", mirror_tta, "Average predictions over axis flips.");
    v.field("sw_batch_size", sw_batch_size, "Windows per forward pass.", ge(1));
    v.field("sigma_scale", sigma_scale, "Gaussian blending sigma as a fraction of the patch size (nnU-Net: 1/8).",
            gt(0));
    v.field("accumulate_dtype", accumulate_dtype,
            "Dtype of the on-device sliding-window accumulator (float16 halves its memory).");
    v.field("metrics", metrics, "Metrics: dice, hd95, nsd, voi, arand.");
    v.field("nsd_tolerance_mm", nsd_tolerance_mm, "Normalised surface Dice tolerance (mm).", ge(0));
  }
};

}  // namespace gtgm::config
