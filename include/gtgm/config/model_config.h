#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `model.type`: the image encoder.
enum class EncoderType { ResNet3d, ResUNet, UNet, ViT3d, Swin3d };
template <>
struct EnumNames<EncoderType> {
  static constexpr std::pair<EncoderType, const char*> items[] = {{EncoderType::ResNet3d, "resnet3d"},
                                                                  {EncoderType::ResUNet, "resunet"},
                                                                  {EncoderType::UNet, "unet"},
                                                                  {EncoderType::ViT3d, "vit3d"},
                                                                  {EncoderType::Swin3d, "swin3d"}};
};

/// `model.norm`: normalisation layers of conv blocks.
enum class Norm { Batch, Instance, Group };
template <>
struct EnumNames<Norm> {
  static constexpr std::pair<Norm, const char*> items[] = {
      {Norm::Batch, "batch"}, {Norm::Instance, "instance"}, {Norm::Group, "group"}};
};

/// `model.activation`: activation of conv blocks.
enum class Activation { ReLU, LeakyReLU, GELU };
template <>
struct EnumNames<Activation> {
  static constexpr std::pair<Activation, const char*> items[] = {
      {Activation::ReLU, "relu"}, {Activation::LeakyReLU, "leaky_relu"}, {Activation::GELU, "gelu"}};
};

/// `model.pos_embed`: vit3d position embeddings.
enum class PosEmbed { Learnable, SinCos };
template <>
struct EnumNames<PosEmbed> {
  static constexpr std::pair<PosEmbed, const char*> items[] = {{PosEmbed::Learnable, "learnable"},
                                                               {PosEmbed::SinCos, "sincos"}};
};

/// `model.decoder`: the segmentation decoder.
enum class DecoderType { Auto, UNet, UNETR, ResUNet, SwinUNETR, None };
template <>
struct EnumNames<DecoderType> {
  static constexpr std::pair<DecoderType, const char*> items[] = {{DecoderType::Auto, "auto"},
                                                                  {DecoderType::UNet, "unet"},
                                                                  {DecoderType::UNETR, "unetr"},
                                                                  {DecoderType::ResUNet, "resunet"},
                                                                  {DecoderType::SwinUNETR, "swin_unetr"},
                                                                  {DecoderType::None, "none"}};
};

/// `model.upsample`: UNet decoder upsampling.
enum class Upsample { Transposed, Interpolate };
template <>
struct EnumNames<Upsample> {
  static constexpr std::pair<Upsample, const char*> items[] = {{Upsample::Transposed, "transposed"},
                                                               {Upsample::Interpolate, "interpolate"}};
};

/// `model.head`: the output head.
enum class HeadType { Segmentation, Affinity };
template <>
struct EnumNames<HeadType> {
  static constexpr std::pair<HeadType, const char*> items[] = {{HeadType::Segmentation, "segmentation"},
                                                               {HeadType::Affinity, "affinity"}};
};

/// `model:` keys every encoder shares (the decoders' conv blocks read them too). One home for
/// each: an encoder reads them from here, never from a copy.
struct EncoderConfig {
  int spatial_dims = 3;
  int in_channels = 1;
  Norm norm = Norm::Batch;
  int norm_groups = 8;
  Activation activation = Activation::ReLU;
  int embed_dim = 2048;
  int base_channels = 64;
  int max_channels = 320;

  template <class V>
  void visit(V& v) {
    v.field("spatial_dims", spatial_dims, "2 (slices) or 3 (volumes); per-axis lists have this many entries.",
            between(2, 3));
    v.field("in_channels", in_channels,
            "Input channels (4 for BrainTumour's multi-modal MRI); auto = the channels dataset.json lists (1 for "
            "cremi; glob: the first image's).",
            ge(1).or_auto());
    v.field("norm", norm, "Normalisation layers of conv encoders/decoders.");
    v.field("norm_groups", norm_groups, "Groups of `norm: group` (must divide every channel count).", ge(1));
    v.field("activation", activation, "Activation of conv blocks (resnet3d in the paper: relu).");
    v.field("embed_dim", embed_dim,
            "Pooled image embedding size E (paper: 2048 = ResNet-50's width); a Linear `embed` is added after "
            "global pooling only when the encoder's width differs; 0 = the encoder's width.",
            ge(0));
    v.field("base_channels", base_channels,
            "resnet3d: channels of the stem and first stage (paper: 64); resunet/unet: channels of stage 0 when "
            "`channels` is [].",
            ge(1));
    v.field("max_channels", max_channels, "Cap of automatic encoder and decoder channel counts (nnU-Net: 320).", ge(1));
  }
};

/// `model:` keys of the resnet3d encoder: ResNet3d takes this struct as its options.
struct ResNet3dConfig {
  int depth = 50;
  std::vector<int> stem_kernel = {3, 7, 7};
  std::vector<int> stem_stride = {1, 2, 2};
  bool stem_pool = true;
  std::vector<int> stem_pool_stride = {1, 2, 2};

  template <class V>
  void visit(V& v) {
    v.field("depth", depth, "resnet3d depth.", one_of_int({10, 18, 34, 50, 101, 152}));
    v.field("stem_kernel", stem_kernel, "resnet3d first conv kernel per axis (paper code: 3x7x7).", ge(1).length(2, 3));
    v.field("stem_stride", stem_stride, "resnet3d first conv stride per axis (paper code: 1x2x2).", ge(1).length(2, 3));
    v.field("stem_pool", stem_pool, "resnet3d: 3x3x3 max-pool (padding 1) after the first conv.");
    v.field("stem_pool_stride", stem_pool_stride,
            "resnet3d stem max-pool stride per axis (paper code: 1x2x2, so ResNet-50's layer4 sits at 8x32x32; "
            "gtgm before this key: 2x2x2).",
            ge(1).length(2, 3));
  }

 private:
  static Check one_of_int(std::initializer_list<int> values) {
    Check c;
    for (int x : values) c.choices.push_back(std::to_string(x));
    return c;
  }
};

/// `model:` keys of the resunet / unet encoder: ResUNetEncoder takes this struct as its options.
struct UNetEncoderConfig {
  int stages = 5;
  std::vector<int> channels = {};
  std::vector<std::string> strides = {};
  std::vector<std::string> kernels = {};
  std::vector<int> blocks = {};

  template <class V>
  void visit(V& v) {
    v.field("stages", stages, "resunet/unet: encoder stages (resolutions).", between(1, 8));
    v.field("channels", channels, "resunet/unet: channels per stage; [] = base_channels*2^i capped at max_channels.",
            ge(1));
    v.field("strides", strides,
            "resunet/unet: stride of each stage's first conv, e.g. [\"1\", \"1x2x2\", \"2\"]; [] = 1 then 2.");
    v.field("kernels", kernels, "resunet/unet: conv kernel of each stage, e.g. [\"1x3x3\", \"3\"]; [] = 3.");
    v.field("blocks", blocks, "resunet/unet: (residual) double-conv blocks per stage; [] = 1 each.", ge(1));
  }
};

/// `model:` keys of the vit3d encoder: ViT3d takes this struct as its options.
struct ViT3dConfig {
  std::vector<int> patch_size = {16, 16, 16};
  std::vector<int> input_size = {32, 160, 160};
  int hidden_size = 768;
  int num_layers = 12;
  int num_heads = 12;
  int mlp_dim = 3072;
  PosEmbed pos_embed = PosEmbed::Learnable;
  double dropout = 0.0;

  template <class V>
  void visit(V& v) {
    v.field("patch_size", patch_size, "vit3d patch size per axis (anisotropic allowed, e.g. [4, 16, 16]).",
            ge(1).length(2, 3));
    v.field("input_size", input_size,
            "vit3d: input size the learnable position embeddings are made for; other sizes interpolate them.",
            ge(1).length(2, 3));
    v.field("hidden_size", hidden_size, "vit3d token width (ViT-B: 768).", ge(1));
    v.field("num_layers", num_layers, "vit3d transformer blocks (ViT-B: 12).", ge(1));
    v.field("num_heads", num_heads, "vit3d attention heads (must divide hidden_size).", ge(1));
    v.field("mlp_dim", mlp_dim, "vit3d MLP width (ViT-B: 3072).", ge(1));
    v.field("pos_embed", pos_embed, "vit3d position embeddings.");
    v.field("dropout", dropout, "vit3d dropout in attention output and MLP.", between(0, 1));
  }
};

/// `model:` keys of the swin3d encoder (MONAI SwinUNETR's SwinTransformer as the GTGM reference
/// code uses it: finetune/swin_unetr.py, pretrain/utils/swin_unetr.py): Swin3d takes this struct.
struct Swin3dConfig {
  std::vector<int> patch_size = {2, 2, 2};
  int feature_size = 48;
  std::vector<int> depths = {2, 4, 2, 2};
  std::vector<int> heads = {3, 6, 12, 24};
  std::vector<int> window = {7, 7, 7};
  double mlp_ratio = 4.0;
  bool normalize = true;

  template <class V>
  void visit(V& v) {
    v.field("swin_patch_size", patch_size, "swin3d patch embedding size per axis (reference: 2).",
            ge(1).length(3, 3));
    v.field("swin_feature_size", feature_size,
            "swin3d embedding channels of stage 0 (doubling per stage; reference: 48, divisible by 12); also the "
            "swin_unetr decoder's full-resolution channels.",
            ge(12));
    v.field("swin_depths", depths, "swin3d Swin blocks per stage, 4 stages (GTGM reference: 2, 4, 2, 2).",
            ge(1).length(4, 4));
    v.field("swin_heads", heads, "swin3d attention heads per stage (reference: 3, 6, 12, 24).", ge(1).length(4, 4));
    v.field("swin_window", window,
            "swin3d attention window per axis (reference: 7); odd blocks shift it by window / 2; stages smaller "
            "than the window use their size, larger ones are padded to a multiple of it (as MONAI).",
            ge(1).length(3, 3));
    v.field("swin_mlp_ratio", mlp_ratio, "swin3d MLP width / channels (reference: 4).", gt(0));
    v.field("swin_normalize", normalize,
            "swin3d: layer-normalise (no affine) each stage output before the decoder and pooling (SwinUNETR's "
            "normalize=True).");
  }
};

/// `model:` image encoder, decoder and projection heads; `type:` picks a registry factory.
/// Per-axis values are written D x H x W ("1x2x2"; one number means every axis; 2D uses "HxW").
/// The encoder keys live in one sub-struct per encoder (plus EncoderConfig for the shared ones),
/// all visited on the same level, so the YAML keys stay flat: `model.depth`, `model.patch_size`.
struct ModelConfig {
  EncoderType type = EncoderType::ResNet3d;
  EncoderConfig encoder;    ///< shared by every encoder
  ResNet3dConfig resnet3d;  ///< type: resnet3d
  UNetEncoderConfig unet;   ///< type: resunet, unet
  ViT3dConfig vit3d;        ///< type: vit3d
  Swin3dConfig swin3d;      ///< type: swin3d

  // ---- projection heads (pretraining) ----
  int text_embed_dim = 768;
  int proj_hidden = 2048;
  int proj_dim = 512;
  bool proj_out_bn = true;
  bool sync_bn = false;

  // ---- segmentation ----
  DecoderType decoder = DecoderType::Auto;
  Upsample upsample = Upsample::Transposed;
  std::vector<int> decoder_channels = {};
  int unetr_feature_size = 16;
  HeadType head = HeadType::Segmentation;
  int num_classes = 2;
  bool deep_supervision = false;

  template <class V>
  void visit(V& v) {
    v.field("type", type, "Image encoder.");
    encoder.visit(v);
    resnet3d.visit(v);
    unet.visit(v);
    vit3d.visit(v);
    swin3d.visit(v);
    v.field("text_embed_dim", text_embed_dim, "Text encoder output size fed to text_proj (BioBERT: 768).", ge(1));
    v.field("proj_hidden", proj_hidden, "Projection MLP hidden size (paper: 2048).", ge(1));
    v.field("proj_dim", proj_dim, "Shared image-text projection size (paper: 512).", ge(1));
    v.field("proj_out_bn", proj_out_bn,
            "End both projection MLPs with a non-affine BatchNorm (the GTGM reference code's "
            "BatchNorm1d(proj_dim, affine=False)); false = Linear-BN-ReLU-Linear as drawn in the paper.");
    v.field("sync_bn", sync_bn,
            "With several processes, every BatchNorm of the encoder, decoder and heads normalises over the global "
            "batch (statistics all-reduced over the ranks each training step, as the reference's "
            "torch.nn.SyncBatchNorm.convert_sync_batchnorm); false = each process normalises its own batch. No "
            "effect with one process or in eval mode.");
    v.field("decoder", decoder,
            "Segmentation decoder; auto = unetr for vit3d, swin_unetr for swin3d, unet otherwise; resunet = the "
            "reference's ResUNet decoder (finetune/resunet.py: transposed convs with additive skips, resnet3d "
            "only); swin_unetr = SwinUNETR's decoder (swin3d only).");
    v.field("upsample", upsample,
            "UNet decoder upsampling: transposed conv, or (bi/tri)linear interpolation + 1x1 conv.");
    v.field("decoder_channels", decoder_channels,
            "UNet decoder channels per skip level, highest resolution first; [] = skip channels capped at max_channels.",
            ge(1));
    v.field("unetr_feature_size", unetr_feature_size, "UNETR decoder channels at full resolution (doubling per level).",
            ge(1));
    v.field("head", head, "Output head: segmentation (num_classes logits) or affinity (one per axis, EM).");
    v.field("num_classes", num_classes,
            "Segmentation classes including background; auto = highest label value in dataset.json \"labels\" + 1.",
            ge(1).or_auto());
    v.field("deep_supervision", deep_supervision, "Extra outputs at lower decoder scales.");
  }
};

/// Parses a per-axis spec: "1x2x2" -> {1, 2, 2}; "2" -> {2, 2, 2} (`dims` copies). Throws
/// gtgm::ConfigError naming `key` when the text is malformed, has the wrong count or a value < 1.
std::vector<int64_t> parse_axis_spec(const std::string& text, int dims, const std::string& key);

/// resunet/unet per-stage settings with the [] defaults filled in (validated).
struct StagePlan {
  std::vector<int64_t> channels;              ///< [stages]
  std::vector<std::vector<int64_t>> strides;  ///< [stages][dims]
  std::vector<std::vector<int64_t>> kernels;  ///< [stages][dims]
  std::vector<int64_t> blocks;                ///< [stages]
};
/// Resolves `stages`, `channels`, `strides`, `kernels`, `blocks` (and `base_channels`,
/// `max_channels`, `spatial_dims` of the shared keys). Throws gtgm::ConfigError naming the key on
/// inconsistent lengths.
StagePlan resolve_stage_plan(const EncoderConfig& shared, const UNetEncoderConfig& cfg);

/// Cross-field problems of the model section (one message per problem, naming the keys); empty
/// when consistent. Called by config::validate.
std::vector<std::string> model_config_problems(const ModelConfig& cfg);

}  // namespace gtgm::config
