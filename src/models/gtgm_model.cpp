#include "gtgm/models/gtgm_model.h"

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::models {

// ---- GtgmModel -----------------------------------------------------------------------------------
GtgmModelImpl::GtgmModelImpl(std::shared_ptr<EncoderImpl> encoder, ProjectionHead vision_proj,
                             ProjectionHead text_proj) {
  GTGM_CHECK(encoder != nullptr, "GtgmModel needs an encoder");
  GTGM_CHECK(vision_proj->in_features() == encoder->embed_dim(),
             "vision_proj takes {} features but the encoder's embedding has {} (model.embed_dim)",
             vision_proj->in_features(), encoder->embed_dim());
  GTGM_CHECK(vision_proj->out_features() == text_proj->out_features(),
             "vision_proj ({}) and text_proj ({}) must project to the same size", vision_proj->out_features(),
             text_proj->out_features());
  encoder_ = register_module("encoder", std::move(encoder));
  vision_proj_ = register_module("vision_proj", std::move(vision_proj));
  text_proj_ = register_module("text_proj", std::move(text_proj));
}

ImageEmbedding GtgmModelImpl::encode_image(const torch::Tensor& x) {
  ImageEmbedding out;
  out.embedding = encoder_->forward(x).pooled;            // [B, embed_dim]
  out.projection = vision_proj_->forward(out.embedding);  // [B, proj_dim]
  return out;
}

torch::Tensor GtgmModelImpl::project_text(const torch::Tensor& text) { return text_proj_->forward(text); }

GtgmOutput GtgmModelImpl::forward(const torch::Tensor& view1, const torch::Tensor& view2, const torch::Tensor& text) {
  GTGM_CHECK(view1.sizes() == view2.sizes(), "GtgmModel: views differ in shape: {} vs {}",
             core::shape_str(view1.sizes()), core::shape_str(view2.sizes()));
  GTGM_CHECK(text.dim() == 2 && text.size(0) == view1.size(0),
             "GtgmModel: text embeddings {} do not match the image batch {}", core::shape_str(text.sizes()),
             core::shape_str(view1.sizes()));
  GtgmOutput out;
  auto a = encode_image(view1);
  auto b = encode_image(view2);
  out.e1 = a.embedding;
  out.v1 = a.projection;
  out.e2 = b.embedding;
  out.v2 = b.projection;
  out.t = project_text(text);
  return out;
}

// ---- SegmentationModel ---------------------------------------------------------------------------
SegmentationModelImpl::SegmentationModelImpl(std::shared_ptr<EncoderImpl> encoder, std::shared_ptr<DecoderImpl> decoder,
                                             SegmentationHead head) {
  GTGM_CHECK(encoder != nullptr && decoder != nullptr, "SegmentationModel needs an encoder and a decoder");
  GTGM_CHECK(head->options().in_channels() == decoder->output_channels(),
             "segmentation head built for other decoder channels than the decoder's");
  encoder_ = register_module("encoder", std::move(encoder));
  decoder_ = register_module("decoder", std::move(decoder));
  head_ = register_module("head", std::move(head));
}

std::vector<torch::Tensor> SegmentationModelImpl::decode(const torch::Tensor& x) {
  const std::string what = "segmentation model (" + encoder_->type() + ")";
  encoder_->check_input(x, Shape(static_cast<size_t>(x.dim() > 2 ? x.dim() - 2 : 0), 1), what);
  // Sizes that are not a multiple of the total stride (e.g. the paper's EM crop 18x160x160 for an
  // 8x32x32 stride) are zero-padded at the end of each axis here and every output is cropped
  // back below, as the reference decoder pads its skips; x is z-score normalised, so 0 is the mean.
  const Shape divisor = encoder_->size_divisor();
  const int dims = static_cast<int>(x.dim()) - 2;
  std::vector<int64_t> pad;  // F.pad order: last axis first, (before, after) pairs
  bool padded = false;
  for (int a = dims - 1; a >= 0; --a) {
    const int64_t size = x.size(a + 2), d = divisor[static_cast<size_t>(a)];
    const int64_t extra = (size + d - 1) / d * d - size;
    pad.push_back(0);
    pad.push_back(extra);
    padded = padded || extra > 0;
  }
  const torch::Tensor input = padded ? torch::constant_pad_nd(x, pad, 0.0) : x;
  auto enc = encoder_->forward(input);
  std::vector<torch::Tensor> levels = decoder_->forward(input, enc);  // level maps, full resolution first
  if (!padded) return levels;
  for (auto& level : levels) {
    for (int a = 0; a < dims; ++a) {
      // A level at stride s covers ceil(size / s) voxels of the unpadded input.
      const int64_t s = input.size(a + 2) / level.size(a + 2);
      level = level.narrow(a + 2, 0, (x.size(a + 2) + s - 1) / s);
    }
  }
  return levels;
}

torch::Tensor SegmentationModelImpl::forward(const torch::Tensor& x) {
  return head_->forward(decode(x).front());  // [B, out, *S]
}

std::vector<torch::Tensor> SegmentationModelImpl::forward_deep(const torch::Tensor& x) {
  return head_->forward_all(decode(x));
}

}  // namespace gtgm::models
