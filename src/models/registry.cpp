#include "gtgm/models/registry.h"

#include <fmt/format.h>

#include <sstream>

#include "gtgm/core/error.h"

namespace gtgm::models {

namespace {

void check_model_config(const config::ModelConfig& cfg) {
  const auto problems = config::model_config_problems(cfg);
  if (!problems.empty()) {
    throw ConfigError(problems.size() == 1 ? problems.front()
                                           : fmt::format("{} model config errors:\n  {}", problems.size(),
                                                         fmt::join(problems, "\n  ")));
  }
}

std::string human(int64_t n) {
  if (n >= 1000000) return fmt::format("{:.2f} M", static_cast<double>(n) / 1e6);
  if (n >= 1000) return fmt::format("{:.1f} K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

SegmentationHead build_head(const config::ModelConfig& cfg, const DecoderImpl& decoder) {
  const bool affinity = cfg.head == config::HeadType::Affinity;
  const int dims = cfg.encoder.spatial_dims;
  if (!affinity && cfg.num_classes == 0) {
    throw ConfigError(
        "model.num_classes is auto, which a run fills from dataset.json \"labels\" at start; this model is "
        "built without a dataset: set model.num_classes");
  }
  return SegmentationHead(SegmentationHeadOptions(dims, decoder.output_channels(), affinity ? dims : cfg.num_classes)
                              .deep_supervision(cfg.deep_supervision)
                              .affinity(affinity));
}

}  // namespace

std::vector<std::string> encoder_types() { return config::enum_spellings<config::EncoderType>(); }

std::shared_ptr<EncoderImpl> build_encoder(const config::ModelConfig& cfg) {
  check_model_config(cfg);
  if (cfg.encoder.in_channels == 0) {
    throw ConfigError(
        "model.in_channels is auto, which a run fills from the dataset (dataset.json's channels) at start; "
        "this model is built without one: set model.in_channels");
  }
  switch (cfg.type) {
    case config::EncoderType::ResNet3d:
      return ResNet3d(cfg.encoder, cfg.resnet3d).ptr();
    case config::EncoderType::ResUNet:
      return ResUNetEncoder(cfg.encoder, cfg.unet, /*residual=*/true).ptr();
    case config::EncoderType::UNet:
      return ResUNetEncoder(cfg.encoder, cfg.unet, /*residual=*/false).ptr();
    case config::EncoderType::ViT3d:
      return ViT3d(cfg.encoder, cfg.vit3d).ptr();
    case config::EncoderType::Swin3d:
      return Swin3d(cfg.encoder, cfg.swin3d).ptr();
  }
  throw ConfigError(fmt::format("model.type: unknown encoder {}; valid: {}", static_cast<int>(cfg.type),
                                fmt::join(encoder_types(), ", ")));
}

std::shared_ptr<DecoderImpl> build_decoder(const config::ModelConfig& cfg, const EncoderImpl& encoder) {
  using config::DecoderType;
  DecoderType kind = cfg.decoder;
  if (kind == DecoderType::Auto) {
    kind = encoder.type() == "vit3d"    ? DecoderType::UNETR
           : encoder.type() == "swin3d" ? DecoderType::SwinUNETR
                                        : DecoderType::UNet;
  }
  const BlockSpec spec = block_spec(cfg.encoder);
  if (kind == DecoderType::UNet) {
    GTGM_CHECK(encoder.type() != "vit3d",
               "model.decoder: unet needs multi-scale skips; vit3d gives one token grid, use decoder: unetr");
    auto o = UNetDecoderOptions(encoder.feature_info())
                 .channels(std::vector<int64_t>(cfg.decoder_channels.begin(), cfg.decoder_channels.end()))
                 .max_channels(cfg.encoder.max_channels)
                 .transposed(cfg.upsample == config::Upsample::Transposed)
                 .block(spec);
    return UNetDecoder(o).ptr();
  }
  if (kind == DecoderType::UNETR) {
    GTGM_CHECK(encoder.type() == "vit3d", "model.decoder: unetr needs model.type: vit3d, got {}", encoder.type());
    auto o = UNETRDecoderOptions()
                 .spatial_dims(cfg.encoder.spatial_dims)
                 .in_channels(cfg.encoder.in_channels)
                 .hidden_size(cfg.vit3d.hidden_size)
                 .patch_size(to_shape(cfg.vit3d.patch_size))
                 .feature_size(cfg.unetr_feature_size)
                 .block(spec);
    return UNETRDecoder(o).ptr();
  }
  if (kind == DecoderType::ResUNet) {
    GTGM_CHECK(encoder.type() == "resnet3d",
               "model.decoder: resunet needs model.type: resnet3d (the reference's ResUNet decodes a ResNet), got "
               "model.type: {}",
               encoder.type());
    const int d = cfg.encoder.spatial_dims;
    auto o = ResUNetDecoderOptions(encoder.feature_info())
                 .stem_kernel(expand_shape(to_shape(cfg.resnet3d.stem_kernel), d, "model.stem_kernel"))
                 .stem_pool(cfg.resnet3d.stem_pool)
                 .stem_pool_stride(expand_shape(to_shape(cfg.resnet3d.stem_pool_stride), d, "model.stem_pool_stride"));
    return ResUNetDecoder(o).ptr();
  }
  if (kind == DecoderType::SwinUNETR) {
    GTGM_CHECK(encoder.type() == "swin3d", "model.decoder: swin_unetr needs model.type: swin3d, got model.type: {}",
               encoder.type());
    auto o = SwinUNETRDecoderOptions()
                 .in_channels(cfg.encoder.in_channels)
                 .feature_size(cfg.swin3d.feature_size)
                 .patch_size(to_shape(cfg.swin3d.patch_size));
    return SwinUNETRDecoder(o).ptr();
  }
  if (kind == DecoderType::None) {
    throw ConfigError("model.decoder is none: a segmentation model needs a decoder (unet, unetr, resunet, swin_unetr or auto)");
  }
  throw ConfigError(
      fmt::format("model.decoder: unknown decoder '{}'; valid: {}", to_string(kind),
                  fmt::join(config::enum_spellings<DecoderType>(), ", ")));
}

GtgmModel build_gtgm_model(const config::ModelConfig& cfg) {
  auto encoder = build_encoder(cfg);
  const int64_t e = encoder->embed_dim();
  return GtgmModel(encoder, ProjectionHead(e, cfg.proj_hidden, cfg.proj_dim, cfg.proj_out_bn),
                   ProjectionHead(cfg.text_embed_dim, cfg.proj_hidden, cfg.proj_dim, cfg.proj_out_bn));
}

SegmentationModel build_segmentation_model(const config::ModelConfig& cfg) {
  auto encoder = build_encoder(cfg);
  auto decoder = build_decoder(cfg, *encoder);
  auto head = build_head(cfg, *decoder);
  return SegmentationModel(encoder, decoder, head);
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(true)) n += p.numel();
  return n;
}

std::vector<std::pair<std::string, int64_t>> parameter_breakdown(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, int64_t>> rows;
  for (const auto& child : module.named_children()) rows.emplace_back(child.key(), count_parameters(*child.value()));
  int64_t direct = 0;
  for (const auto& p : module.parameters(false)) direct += p.numel();
  if (direct > 0) rows.emplace_back("(own)", direct);
  rows.emplace_back("total", count_parameters(module));
  return rows;
}

std::string describe_models(const config::ModelConfig& cfg, const std::vector<int>& input_size) {
  std::ostringstream ss;
  auto model = build_gtgm_model(cfg);
  const auto& enc = *model->encoder();
  const char* axes = cfg.encoder.spatial_dims == 3 ? "D, H, W" : "H, W";
  const bool sized = static_cast<int>(input_size.size()) == cfg.encoder.spatial_dims;
  ss << fmt::format("encoder  {} ({}D, in_channels {}, embedding {})\n", enc.type(), cfg.encoder.spatial_dims,
                    enc.in_channels(), enc.embed_dim());
  ss << fmt::format("features (channels @ stride {}{}, highest resolution first):\n", axes,
                    sized ? fmt::format(" -> size for a {} input", fmt::join(input_size, "x")) : "");
  Shape size(input_size.begin(), input_size.end());
  Shape prev(static_cast<size_t>(cfg.encoder.spatial_dims), 1);
  for (size_t i = 0; i < enc.feature_info().size(); ++i) {
    const auto& f = enc.feature_info()[i];
    std::string at;
    if (sized) {
      // Each stage's strided conv / pool (padding k / 2) gives ceil(n / stride).
      for (size_t a = 0; a < size.size(); ++a) {
        const int64_t step = f.stride[a] / prev[a];
        size[a] = (size[a] + step - 1) / step;
      }
      prev = f.stride;
      at = fmt::format(" -> {}", fmt::join(size, "x"));
    }
    ss << fmt::format("  [{}] {:>5} @ {}{}\n", i, f.channels, fmt::join(f.stride, "x"), at);
  }
  ss << fmt::format("input sizes: multiples of {} for segmentation\n", fmt::join(enc.size_divisor(), "x"));
  auto table = [&](const std::string& title, const std::vector<std::pair<std::string, int64_t>>& rows) {
    ss << title << "\n";
    for (const auto& [name, n] : rows) ss << fmt::format("  {:<12} {:>13}  ({})\n", name, n, human(n));
  };
  table("pretraining model (GtgmModel) parameters:", parameter_breakdown(*model));
  if (cfg.decoder != config::DecoderType::None) {
    // Reuse the encoder: the segmentation model's encoder is the same architecture.
    auto decoder = build_decoder(cfg, enc);
    auto head = build_head(cfg, *decoder);
    const int64_t ne = count_parameters(enc), nd = count_parameters(*decoder), nh = count_parameters(*head);
    table("segmentation model parameters:",
          {{"encoder", ne}, {"decoder", nd}, {"head", nh}, {"total", ne + nd + nh}});
  }
  return ss.str();
}

}  // namespace gtgm::models
