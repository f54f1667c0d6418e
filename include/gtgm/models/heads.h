#pragma once
/// Output heads: the projection MLPs of GTGM pretraining and the segmentation / affinity heads.
#include "gtgm/models/layers.h"

namespace gtgm::models {

/// Projection MLP of the GTGM reference code (pretrain/utils/utils_builder.py:27-39, proj_v / proj_t):
/// fc1 Linear(in, hidden) -> bn1 BatchNorm -> ReLU -> fc2 Linear(hidden, out) -> bn2 non-affine
/// BatchNorm (`out_bn`; without it the Linear-BN-ReLU-Linear the paper draws). [B, in] -> [B, out].
/// Vision: 2048 -> 2048 -> 512; text: 768 -> 2048 -> 512. In training the batch must hold >= 2
/// samples (BatchNorm statistics); over exactly 2 every BatchNorm output is +-1 (up to eps), so
/// train::small_batch_warnings warns about it.
class ProjectionHeadImpl : public torch::nn::Module {
 public:
  ProjectionHeadImpl(int64_t in, int64_t hidden, int64_t out, bool out_bn = true);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

 private:
  int64_t in_, out_;
  Linear fc1_{nullptr}, fc2_{nullptr};
  Norm bn1_{nullptr}, bn2_{nullptr};
};
TORCH_MODULE(ProjectionHead);

/// Options of SegmentationHead.
struct SegmentationHeadOptions {
  SegmentationHeadOptions(int dims, std::vector<int64_t> in_channels, int64_t out_channels)
      : dims_(dims), in_channels_(std::move(in_channels)), out_channels_(out_channels) {}
  TORCH_ARG(int, dims);
  /// The decoder's output_channels(), highest resolution first.
  TORCH_ARG(std::vector<int64_t>, in_channels);
  /// num_classes (segmentation) or spatial dims (affinity: one per axis, z/y/x order).
  TORCH_ARG(int64_t, out_channels);
  /// Also map the lower decoder levels ("deep.i" 1^d convs).
  TORCH_ARG(bool, deep_supervision) = false;
  /// Affinity head: outputs are nearest-neighbour affinity logits along each axis (EM).
  TORCH_ARG(bool, affinity) = false;
};

/// 1^d conv logits head. forward(map0) -> [B, out, *S]; forward_all(maps) -> one logits map per
/// decoder level (only the first unless deep_supervision), highest resolution first.
/// Submodules "out"[, "deep"]. Logits: softmax (segmentation) / sigmoid (affinity) belong to the loss.
class SegmentationHeadImpl : public torch::nn::Module {
 public:
  explicit SegmentationHeadImpl(const SegmentationHeadOptions& options);
  torch::Tensor forward(const torch::Tensor& top);
  std::vector<torch::Tensor> forward_all(const std::vector<torch::Tensor>& maps);
  const SegmentationHeadOptions& options() const { return options_; }

 private:
  SegmentationHeadOptions options_;
  Conv out_{nullptr};
  std::vector<Conv> deep_;
};
TORCH_MODULE(SegmentationHead);

}  // namespace gtgm::models
