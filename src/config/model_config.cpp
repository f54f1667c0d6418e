#include "gtgm/config/model_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "gtgm/core/error.h"

namespace gtgm::config {

namespace {

std::vector<std::string> split_x(const std::string& text) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : text) {
    if (c == 'x' || c == 'X' || c == '*') {
      parts.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

bool is_power_of_two(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

std::string list_text(const std::vector<int>& v) { return fmt::format("[{}]", fmt::join(v, ", ")); }

}  // namespace

std::vector<int64_t> parse_axis_spec(const std::string& text, int dims, const std::string& key) {
  const auto parts = split_x(text);
  std::vector<int64_t> out;
  for (const auto& p : parts) {
    char* end = nullptr;
    const long v = p.empty() ? 0 : std::strtol(p.c_str(), &end, 10);
    if (p.empty() || end == nullptr || *end != '\0' || v < 1) {
      throw ConfigError(fmt::format("{}: '{}' is not a per-axis size; expected positive integers like \"2\" or "
                                    "\"1x2x2\" ({} axes)",
                                    key, text, dims));
    }
    out.push_back(v);
  }
  if (out.size() == 1) return std::vector<int64_t>(static_cast<size_t>(dims), out.front());
  if (static_cast<int>(out.size()) != dims) {
    throw ConfigError(fmt::format("{}: '{}' has {} axes but model.spatial_dims is {}", key, text, out.size(), dims));
  }
  return out;
}

StagePlan resolve_stage_plan(const EncoderConfig& shared, const UNetEncoderConfig& cfg) {
  const int s = cfg.stages;
  const int dims = shared.spatial_dims;
  auto check_len = [&](size_t n, const char* key) {
    if (n != 0 && static_cast<int>(n) != s) {
      throw ConfigError(fmt::format("model.{} has {} entries but model.stages is {} (give one per stage or [])", key,
                                    n, s));
    }
  };
  check_len(cfg.channels.size(), "channels");
  check_len(cfg.strides.size(), "strides");
  check_len(cfg.kernels.size(), "kernels");
  check_len(cfg.blocks.size(), "blocks");
  StagePlan plan;
  for (int i = 0; i < s; ++i) {
    if (cfg.channels.empty()) {
      const int64_t c = static_cast<int64_t>(shared.base_channels) << std::min(i, 20);
      plan.channels.push_back(std::min<int64_t>(c, shared.max_channels));
    } else {
      plan.channels.push_back(cfg.channels[static_cast<size_t>(i)]);
    }
    const std::string stride_key = fmt::format("model.strides[{}]", i);
    const std::string kernel_key = fmt::format("model.kernels[{}]", i);
    plan.strides.push_back(cfg.strides.empty() ? std::vector<int64_t>(static_cast<size_t>(dims), i == 0 ? 1 : 2)
                                               : parse_axis_spec(cfg.strides[static_cast<size_t>(i)], dims, stride_key));
    plan.kernels.push_back(cfg.kernels.empty() ? std::vector<int64_t>(static_cast<size_t>(dims), 3)
                                               : parse_axis_spec(cfg.kernels[static_cast<size_t>(i)], dims, kernel_key));
    for (int64_t k : plan.kernels.back()) {
      if (k % 2 == 0) {
        throw ConfigError(fmt::format("{}: kernel sizes must be odd (same padding), got '{}'", kernel_key,
                                      cfg.kernels[static_cast<size_t>(i)]));
      }
    }
    plan.blocks.push_back(cfg.blocks.empty() ? 1 : cfg.blocks[static_cast<size_t>(i)]);
  }
  return plan;
}

std::vector<std::string> model_config_problems(const ModelConfig& cfg) {
  std::vector<std::string> errors;
  const EncoderConfig& shared = cfg.encoder;
  const ResNet3dConfig& resnet = cfg.resnet3d;
  const ViT3dConfig& vit = cfg.vit3d;
  const int dims = shared.spatial_dims;
  const std::vector<int> depths = {10, 18, 34, 50, 101, 152};
  if (cfg.type == EncoderType::ResNet3d) {
    if (std::find(depths.begin(), depths.end(), resnet.depth) == depths.end()) {
      errors.push_back(fmt::format("model.depth is {}; resnet3d supports 10, 18, 34, 50, 101, 152", resnet.depth));
    }
    if (static_cast<int>(resnet.stem_kernel.size()) != dims || static_cast<int>(resnet.stem_stride.size()) != dims) {
      errors.push_back(fmt::format("model.stem_kernel {} and model.stem_stride {} need {} entries (model.spatial_dims)",
                                   list_text(resnet.stem_kernel), list_text(resnet.stem_stride), dims));
    }
    if (resnet.stem_pool && static_cast<int>(resnet.stem_pool_stride.size()) != dims) {
      errors.push_back(fmt::format("model.stem_pool_stride {} needs {} entries (model.spatial_dims)",
                                   list_text(resnet.stem_pool_stride), dims));
    }
  }
  if (cfg.type == EncoderType::ResUNet || cfg.type == EncoderType::UNet) {
    try {
      resolve_stage_plan(shared, cfg.unet);
    } catch (const ConfigError& e) {
      errors.push_back(e.message());
    }
  }
  if (cfg.type == EncoderType::ViT3d) {
    if (static_cast<int>(vit.patch_size.size()) != dims || static_cast<int>(vit.input_size.size()) != dims) {
      errors.push_back(fmt::format("model.patch_size {} and model.input_size {} need {} entries (model.spatial_dims)",
                                   list_text(vit.patch_size), list_text(vit.input_size), dims));
    } else {
      for (int a = 0; a < dims; ++a) {
        if (vit.input_size[static_cast<size_t>(a)] % vit.patch_size[static_cast<size_t>(a)] != 0) {
          errors.push_back(fmt::format("model.input_size {} is not divisible by model.patch_size {}",
                                       list_text(vit.input_size), list_text(vit.patch_size)));
          break;
        }
      }
    }
    if (vit.hidden_size % vit.num_heads != 0) {
      errors.push_back(
          fmt::format("model.num_heads ({}) must divide model.hidden_size ({})", vit.num_heads, vit.hidden_size));
    }
    if (vit.pos_embed == PosEmbed::SinCos && vit.hidden_size % (2 * dims) != 0) {
      errors.push_back(
          fmt::format("model.pos_embed: sincos needs model.hidden_size ({}) divisible by {} (2 x spatial_dims)",
                      vit.hidden_size, 2 * dims));
    }
    if (cfg.decoder == DecoderType::UNet) {
      errors.push_back("model.decoder: unet needs an encoder with multi-scale skips; use decoder: unetr with vit3d");
    }
    if (cfg.decoder == DecoderType::UNETR || cfg.decoder == DecoderType::Auto) {
      int levels = 0;
      for (int p : vit.patch_size) {
        if (!is_power_of_two(p)) {
          errors.push_back(fmt::format("model.decoder: unetr needs power-of-two model.patch_size, got {}",
                                       list_text(vit.patch_size)));
          break;
        }
        int l = 0;
        while ((1 << l) < p) ++l;
        levels = std::max(levels, l);
      }
      if (levels > vit.num_layers) {
        errors.push_back(
            fmt::format("model.decoder: unetr taps {} transformer layers for patch {} but model.num_layers "
                        "is {}",
                        levels, list_text(vit.patch_size), vit.num_layers));
      }
    }
  } else if (cfg.decoder == DecoderType::UNETR) {
    errors.push_back(
        fmt::format("model.decoder: unetr needs model.type: vit3d (got {}); use decoder: unet", to_string(cfg.type)));
  }
  if (cfg.type == EncoderType::Swin3d) {
    const Swin3dConfig& sw = cfg.swin3d;
    if (dims != 3) errors.push_back(fmt::format("model.type: swin3d needs model.spatial_dims 3, got {}", dims));
    if (sw.feature_size % 12 != 0) {
      errors.push_back(fmt::format("model.swin_feature_size must be divisible by 12 (as SwinUNETR requires), got {}",
                                   sw.feature_size));
    }
    if (sw.depths.size() != 4 || sw.heads.size() != 4) {
      errors.push_back(fmt::format("model.swin_depths {} and model.swin_heads {} need 4 entries (one per stage)",
                                   list_text(sw.depths), list_text(sw.heads)));
    } else {
      for (size_t i = 0; i < 4; ++i) {
        const int dim = sw.feature_size << i;
        if (sw.heads[i] < 1 || dim % sw.heads[i] != 0) {
          errors.push_back(fmt::format("model.swin_heads[{}] = {} must divide stage {}'s {} channels "
                                       "(model.swin_feature_size x 2^{})",
                                       i, sw.heads[i], i, dim, i));
        }
      }
    }
  } else if (cfg.decoder == DecoderType::SwinUNETR) {
    errors.push_back(fmt::format("model.decoder: swin_unetr needs model.type: swin3d (got {}); use decoder: auto",
                                 to_string(cfg.type)));
  }
  if (cfg.decoder == DecoderType::ResUNet) {
    if (cfg.type != EncoderType::ResNet3d) {
      errors.push_back(fmt::format(
          "model.decoder: resunet needs model.type: resnet3d (the ResNet encoder of the reference's ResUNet), got "
          "model.type: {}; use decoder: unet or auto",
          to_string(cfg.type)));
    }
    if (!cfg.decoder_channels.empty()) {
      errors.push_back(fmt::format("model.decoder_channels {} is for decoder: unet; resunet takes the encoder's "
                                   "channels (give [])",
                                   list_text(cfg.decoder_channels)));
    }
  }
  if (shared.norm == Norm::Group) {
    // Channel counts of conv encoders must be divisible by the group count.
    std::vector<int64_t> chans;
    if (cfg.type == EncoderType::ResNet3d) {
      chans.push_back(shared.base_channels);
    } else if (cfg.type == EncoderType::ResUNet || cfg.type == EncoderType::UNet) {
      try {
        chans = resolve_stage_plan(shared, cfg.unet).channels;
      } catch (const ConfigError&) {
      }
    }
    for (int64_t c : chans) {
      if (c % shared.norm_groups != 0) {
        errors.push_back(fmt::format("model.norm_groups ({}) must divide every channel count; {} channels do not",
                                     shared.norm_groups, c));
        break;
      }
    }
  }
  if (cfg.head == HeadType::Affinity && cfg.decoder == DecoderType::None) {
    errors.push_back("model.head: affinity needs a decoder (model.decoder is none)");
  }
  return errors;
}

}  // namespace gtgm::config
