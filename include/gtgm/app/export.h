#pragma once
/// `gtgm export` as a library call: a pretraining checkpoint's encoder, or a fine-tuning
/// checkpoint's whole segmentation network, for Python (python/gtgm_models.py rebuilds the latter).
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/models/gtgm_model.h"

namespace gtgm::app {

struct ExportOptions {
  /// A run dir (its newest valid checkpoint, or the best with `best`) or a checkpoint dir.
  std::filesystem::path source;
  std::filesystem::path out;
  bool best = false;
  /// Also write projections.safetensors (vision_proj.*, text_proj.*, objective.*).
  bool with_heads = false;
};

/// What export wrote.
struct ExportResult {
  std::filesystem::path checkpoint;
  std::vector<std::filesystem::path> files;
  int64_t step = 0;
  int64_t tensors = 0;
  /// "gtgm-encoder" (pretraining checkpoint) or "gtgm-segmentation" (fine-tuning checkpoint).
  std::string format;
};

/// Writes OUT/encoder.safetensors (the encoder's parameters and buffers, keys relative to the
/// encoder, e.g. "stem.conv.weight"), OUT/encoder.pt (the same tensors as a dict readable by
/// Python's torch.load) and OUT/architecture.json (format, gtgm version, source checkpoint and
/// step, the model: config section, encoder type, embed_dim, feature channels/strides, tensor
/// shapes). The weights are first loaded strictly into an encoder built from the checkpoint's
/// config, so an export always matches its description.
ExportResult export_encoder(const ExportOptions& options);

/// The resolved architecture of a segmentation model built from `cfg` by
/// models::build_segmentation_model: spatial_dims, in_channels, block (norm, norm_groups,
/// activation), encoder (type and every setting, lists expanded per axis and per stage), decoder
/// (type, resolved channels, upsample), head (type, out_channels, deep_supervision) and
/// size_divisor. What python/gtgm_models.py builds from; throws naming the key it cannot describe.
nlohmann::ordered_json segmentation_architecture(const config::ModelConfig& cfg, models::SegmentationModelImpl& model);

/// Writes OUT/model.safetensors (every tensor of `model`, keys as in a fine-tuning checkpoint:
/// "encoder.*", "decoder.*", "head.*"), OUT/model.pt (the same tensors as a dict for torch.load)
/// and OUT/architecture.json (format "gtgm-segmentation", gtgm version, `network` =
/// segmentation_architecture, model_config = the model: section, `extra`'s keys, e.g. the source
/// checkpoint, step and preprocessing plan). `model` must have been built from `cfg`.
ExportResult export_segmentation_model(models::SegmentationModelImpl& model, const config::Config& cfg,
                                       const std::filesystem::path& out, const nlohmann::ordered_json& extra = {});

/// `gtgm export`: a fine-tuning checkpoint (one holding "head.*" tensors) -> the whole network
/// (weights loaded strictly into a model built from the checkpoint's config first, plan.json of
/// the run included when found); any other checkpoint -> export_encoder.
ExportResult export_checkpoint(const ExportOptions& options);

}  // namespace gtgm::app
