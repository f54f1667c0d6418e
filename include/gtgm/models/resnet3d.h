#pragma once
/// 3D ResNet-10/18/34/50/101/152 as in the GTGM reference code (pretrain/utils/utils_resnet3d.py:
/// conv1 3x7x7 stride 1x2x2, bn1, ReLU, 3^3 max-pool stride 1x2x2 (`stem_pool_stride`),
/// layer1..layer4 with strides 1, 2, 2, 2, global average pool; no classifier). Module paths (conv1, bn1, layer1.0.conv1, ...,
/// layer1.0.downsample.0) match that code, so its state dicts load without renaming.
#include "gtgm/models/encoder.h"

namespace gtgm::models {

/// Blocks per layer for a depth (throws listing the supported depths).
std::vector<int64_t> resnet_layers(int depth);

/// features: [stem (after conv1/bn1/act, before the pool), layer1, layer2, layer3, layer4];
/// for ResNet-50 with the paper stem: channels 64, 256, 512, 1024, 2048 at strides (1,2,2),
/// (1,4,4), (2,8,8), (4,16,16), (8,32,32) (a 24x224x224 crop ends at 3x7x7). pooled: mean of layer4 -> [B, embed_dim].
/// Any input size works for the encoder itself (sizes round up at each stride).
/// Options: `options` holds the resnet3d keys (depth 10, 18, 34 with basic blocks or 50, 101, 152
/// with bottlenecks; the stem), `shared` the keys every encoder reads (stem / layer1 planes =
/// base_channels, layers use 1, 2, 4, 8 x base; embed_dim 0 = the natural width 8 * base *
/// expansion: 2048 for ResNet-50).
class ResNet3dImpl : public EncoderImpl {
 public:
  explicit ResNet3dImpl(const config::EncoderConfig& shared = {}, const config::ResNet3dConfig& options = {});
  EncoderOutput forward(const torch::Tensor& x) override;
  const config::ResNet3dConfig& options() const { return options_; }

 private:
  config::ResNet3dConfig options_;
  ActKind act_;
  Conv conv1_{nullptr};
  Norm bn1_{nullptr};
  Shape pool_stride_;  ///< stem max-pool stride per axis (empty without the pool)
  std::vector<torch::nn::Sequential> layers_;
};
TORCH_MODULE(ResNet3d);

}  // namespace gtgm::models
