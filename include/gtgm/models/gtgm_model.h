#pragma once
/// The two model assemblies: GtgmModel (pretraining: encoder + vision/text projectors) and
/// SegmentationModel (fine-tuning: encoder + decoder + head). Both hold the encoder under the
/// name "encoder", so "encoder.*" checkpoint keys move from pretraining to fine-tuning unchanged.
/// Build them from a config with models::build_gtgm_model / build_segmentation_model (registry.h).
#include "gtgm/models/decoders.h"
#include "gtgm/models/encoder.h"
#include "gtgm/models/heads.h"

namespace gtgm::models {

/// Embedding E and its projection v of one image batch.
struct ImageEmbedding {
  torch::Tensor embedding;   ///< E: [B, embed_dim]
  torch::Tensor projection;  ///< v: [B, proj_dim]
};

/// Everything one GTGM pretraining step needs.
struct GtgmOutput {
  torch::Tensor e1, e2;  ///< [B, embed_dim] pooled embeddings of the two views (Barlow term)
  torch::Tensor v1, v2;  ///< [B, proj_dim] vision projections (CLIP terms)
  torch::Tensor t;       ///< [B, proj_dim] text projection
};

/// Pretraining model. Submodules "encoder", "vision_proj" (embed_dim -> proj_hidden -> proj_dim),
/// "text_proj" (text_embed_dim -> proj_hidden -> proj_dim).
class GtgmModelImpl : public torch::nn::Module {
 public:
  GtgmModelImpl(std::shared_ptr<EncoderImpl> encoder, ProjectionHead vision_proj, ProjectionHead text_proj);
  /// x: [B, C, *S] -> E [B, embed_dim], v [B, proj_dim].
  ImageEmbedding encode_image(const torch::Tensor& x);
  /// text: [B, text_embed_dim] (frozen text-encoder output) -> [B, proj_dim].
  torch::Tensor project_text(const torch::Tensor& text);
  /// Two views [B, C, *S] (encoded separately, as in the reference code, so BatchNorm statistics
  /// are per view) and text embeddings [B, text_embed_dim].
  GtgmOutput forward(const torch::Tensor& view1, const torch::Tensor& view2, const torch::Tensor& text);

  const std::shared_ptr<EncoderImpl>& encoder() const { return encoder_; }
  ProjectionHead& vision_proj() { return vision_proj_; }
  ProjectionHead& text_proj() { return text_proj_; }

 private:
  std::shared_ptr<EncoderImpl> encoder_;
  ProjectionHead vision_proj_{nullptr}, text_proj_{nullptr};
};
TORCH_MODULE(GtgmModel);

/// Segmentation model. Submodules "encoder", "decoder", "head".
class SegmentationModelImpl : public torch::nn::Module {
 public:
  SegmentationModelImpl(std::shared_ptr<EncoderImpl> encoder, std::shared_ptr<DecoderImpl> decoder,
                        SegmentationHead head);
  /// x: [B, C, *S] -> logits [B, out, *S] (out = num_classes, or one affinity per axis for the
  /// affinity head). Sizes that are not a multiple of size_divisor() are zero-padded at the end of
  /// each axis for the encoder and decoder, and the logits are cropped back to S.
  torch::Tensor forward(const torch::Tensor& x);
  /// Logits at every decoder level, full resolution first: [B, out, *S], [B, out, *ceil(S / s_1)],
  /// ... (only the first without deep supervision).
  std::vector<torch::Tensor> forward_deep(const torch::Tensor& x);
  /// The encoder's total stride (or patch size) per axis: inputs are padded up to a multiple of it.
  Shape size_divisor() const { return encoder_->size_divisor(); }

  const std::shared_ptr<EncoderImpl>& encoder() const { return encoder_; }
  const std::shared_ptr<DecoderImpl>& decoder() const { return decoder_; }
  SegmentationHead& head() { return head_; }

 private:
  std::vector<torch::Tensor> decode(const torch::Tensor& x);
  std::shared_ptr<EncoderImpl> encoder_;
  std::shared_ptr<DecoderImpl> decoder_;
  SegmentationHead head_{nullptr};
};
TORCH_MODULE(SegmentationModel);

}  // namespace gtgm::models
