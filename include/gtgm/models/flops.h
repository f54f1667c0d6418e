#pragma once
/// FLOP counting for gtgm models: every models::Conv, models::Linear and attention matmul reports
/// its forward multiply-adds while a count is active; FLOPs = 2 x multiply-adds. Norms,
/// activations, pooling and additions are not counted (they are a few % of a conv net and the
/// convention of the papers' "GFLOPs" tables). Training FLOPs ~= 3 x forward (backward = 2 x).
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace gtgm::models {

class EncoderImpl;
class SegmentationModelImpl;
class GtgmModelImpl;

/// Forward FLOPs (2 x multiply-adds), total and per op kind ("conv", "conv_transpose", "linear",
/// "attention").
struct FlopCount {
  int64_t total = 0;
  std::map<std::string, int64_t> by_kind;
};

/// Counts the FLOPs of the gtgm layers that run inside `fn` on this thread (nesting: the
/// innermost count receives them).
FlopCount count_flops(const std::function<void()>& fn);

/// FLOPs of one forward pass of `encoder` on an input of `input_shape` [B, C, *spatial]. Runs one
/// sample (B = 1) in eval mode without gradients on the module's device and scales by B; the
/// module's train/eval mode is restored.
FlopCount count_flops(EncoderImpl& encoder, const std::vector<int64_t>& input_shape);
/// Same for a segmentation model (encoder + decoder + head).
FlopCount count_flops(SegmentationModelImpl& model, const std::vector<int64_t>& input_shape);
/// Same for the pretraining model: both views through encoder + vision_proj (2 x one view) plus
/// text_proj on B text embeddings.
FlopCount count_flops(GtgmModelImpl& model, const std::vector<int64_t>& input_shape);

namespace detail {
/// Whether a count is active on this thread (cheap; layers call it on every forward).
bool flops_active();
/// Adds `flops` under `kind` to the active count (no-op when none).
void add_flops(const char* kind, int64_t flops);
}  // namespace detail

}  // namespace gtgm::models
