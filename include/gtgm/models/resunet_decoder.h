#pragma once
/// The GTGM reference code's fine-tuning decoder (finetune/resunet.py, class ResUNet): transposed
/// convs from layer4 down to the stem with additive skips, each followed by two plain 3^d convs
/// (bias, ReLU, no norm); the last step upsamples to the input size by adaptive average pooling.
#include "gtgm/models/decoders.h"

namespace gtgm::models {

/// Options of ResUNetDecoder.
struct ResUNetDecoderOptions {
  explicit ResUNetDecoderOptions(std::vector<FeatureInfo> features) : features_(std::move(features)) {}
  /// The resnet3d encoder's feature_info(): [stem, layer1, layer2, layer3, layer4].
  TORCH_ARG(std::vector<FeatureInfo>, features);
  /// Kernel of upconv1 (the reference's (3, 7, 7) = the stem conv's kernel); padding kernel / 2.
  TORCH_ARG(Shape, stem_kernel) = Shape({3, 7, 7});
  /// The encoder's stem max-pool (3^d, padding 1) and its stride: the reference's encoder1 ends with
  /// the pool, so the decoder pools the stem feature the same way for its last skip.
  TORCH_ARG(bool, stem_pool) = true;
  TORCH_ARG(Shape, stem_pool_stride) = Shape({1, 2, 2});
};

/// ResUNet decoder. With C0 = stem channels and C1..C4 = layer1..layer4 channels (ResNet-50: 64,
/// 256, 512, 1024, 2048; ResNet-18/34: 64, 64, 128, 256, 512):
///   upconv4 (C4 -> C3, kernel = stride = 2) + layer3 -> decoder4; upconv3 (C3 -> C2) + layer2 ->
///   decoder3; upconv2 (C2 -> C1) + layer1 -> decoder2; upconv1 (C1 -> C0, kernel stem_kernel,
///   stride 1) + pooled stem -> adaptive average pool to the input size -> decoder1.
/// "+" is the reference's center_crop_padding: equal sizes add; if any axis of the upsampled map is
/// smaller it is zero-padded (floor half before) to the skip's size, otherwise center-cropped.
/// decoderK = conv 3^d (bias) -> ReLU -> conv 3^d (bias) -> ReLU (Sequential indices 0 and 2, as the
/// reference's state-dict keys). Outputs (highest resolution first): decoder1 [B, C0, *S],
/// decoder2 [B, C1, S / s1], decoder3 [B, C2, S / s2], decoder4 [B, C3, S / s3]. The reference's
/// output conv is SegmentationHead's "out"; its final sigmoid is not applied (logits).
class ResUNetDecoderImpl : public DecoderImpl {
 public:
  explicit ResUNetDecoderImpl(const ResUNetDecoderOptions& options);
  std::vector<torch::Tensor> forward(const torch::Tensor& x, const EncoderOutput& enc) override;

 private:
  ResUNetDecoderOptions options_;
  int dims_ = 3;
  std::vector<Conv> upconvs_;                 ///< [0] = upconv1 ... [3] = upconv4
  std::vector<torch::nn::Sequential> blocks_;  ///< [0] = decoder1 ... [3] = decoder4
};
TORCH_MODULE(ResUNetDecoder);

/// The reference's ResUNet.center_crop_padding (finetune/resunet.py:64-86): x + y after bringing x
/// to y's spatial size (equal: as is; any axis smaller: F.pad with ((t - s) // 2, rest) per axis,
/// negative amounts crop; otherwise center crop with (s - t) // 2 before). x, y: [B, C, *S].
torch::Tensor center_crop_pad_add(const torch::Tensor& x, const torch::Tensor& y);

}  // namespace gtgm::models
