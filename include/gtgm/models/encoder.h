#pragma once
/// The image-encoder interface shared by resnet3d, resunet/unet and vit3d: multi-scale features
/// for decoders plus a pooled embedding E for pretraining.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gtgm/config/model_config.h"
#include "gtgm/models/layers.h"

namespace gtgm::models {

/// A config list of sizes as a Shape.
Shape to_shape(const std::vector<int>& v);
/// The conv-block settings of the shared encoder keys (spatial_dims, norm, norm_groups, activation).
BlockSpec block_spec(const config::EncoderConfig& shared);

/// What an encoder returns.
struct EncoderOutput {
  /// Skips, highest resolution first; features[i]: [B, feature_info()[i].channels, *S / stride_i].
  std::vector<torch::Tensor> features;
  /// Global embedding E: [B, embed_dim()].
  torch::Tensor pooled;
};

/// Channels and cumulative stride (per axis, relative to the input) of one feature map.
struct FeatureInfo {
  int64_t channels = 0;
  Shape stride;
};

/// Base of every image encoder. Submodule names are the encoder's own (checkpoint keys under
/// "encoder." in GtgmModel and SegmentationModel).
class EncoderImpl : public torch::nn::Module {
 public:
  /// x: [B, in_channels, *S] (S has spatial_dims() entries) -> features + pooled.
  virtual EncoderOutput forward(const torch::Tensor& x) = 0;
  /// One entry per EncoderOutput::features element.
  const std::vector<FeatureInfo>& feature_info() const { return features_; }
  /// Width of EncoderOutput::pooled.
  int64_t embed_dim() const { return embed_dim_; }
  int spatial_dims() const { return dims_; }
  int64_t in_channels() const { return in_channels_; }
  /// Registry name ("resnet3d", "resunet", "unet", "vit3d").
  const std::string& type() const { return type_; }
  /// Per-axis multiple every input size must be for skip-connected decoders to line up (the
  /// deepest feature's stride; the patch size for vit3d).
  virtual Shape size_divisor() const { return features_.back().stride; }
  /// Per-axis multiple the encoder itself needs (1 = any size; vit3d: its patch size).
  virtual Shape required_divisor() const { return Shape(static_cast<size_t>(dims_), 1); }
  /// Throws naming the expected layout when x is not [B, in_channels, *S] with S a multiple of
  /// `divisor` per axis (`what` names the caller, e.g. "resnet3d" or "segmentation model").
  void check_input(const torch::Tensor& x, const Shape& divisor, const std::string& what) const;

 protected:
  EncoderImpl(std::string type, int dims, int64_t in_channels) : type_(std::move(type)), dims_(dims), in_channels_(in_channels) {}
  /// Registers the Linear "embed" (width -> embed_dim) when they differ; embed_dim <= 0 keeps width.
  void init_embedding(int64_t width, int64_t embed_dim);
  /// [B, width] -> [B, embed_dim] through "embed" when present.
  torch::Tensor embed(const torch::Tensor& pooled);

  std::vector<FeatureInfo> features_;

 private:
  std::string type_;
  int dims_;
  int64_t in_channels_;
  int64_t embed_dim_ = 0;
  Linear embed_{nullptr};
};

}  // namespace gtgm::models
