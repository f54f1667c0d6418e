#pragma once
/// `gtgm export` as a library call: a pretraining checkpoint's encoder for Python.
#include <cstdint>
#include <filesystem>
#include <vector>

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
};

/// Writes OUT/encoder.safetensors (the encoder's parameters and buffers, keys relative to the
/// encoder, e.g. "stem.conv.weight"), OUT/encoder.pt (the same tensors as a dict readable by
/// Python's torch.load) and OUT/architecture.json (format, gtgm version, source checkpoint and
/// step, the model: config section, encoder type, embed_dim, feature channels/strides, tensor
/// shapes). The weights are first loaded strictly into an encoder built from the checkpoint's
/// config, so an export always matches its description.
ExportResult export_encoder(const ExportOptions& options);

}  // namespace gtgm::app
