#pragma once
/// `gtgm pretrain` and `gtgm export` as library calls (cli/ only parses arguments).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/train/trainer.h"

namespace gtgm::train {

struct PretrainOptions {
  /// Run directory (or checkpoint directory) to continue; empty = a fresh run in run.dir.
  std::string resume;
  /// Stop with a checkpoint once this many steps are done (-1 = train.steps).
  int64_t stop_after = -1;
};

/// The config of a resumed run: with no --config, the checkpoint's own config.yaml with `sets`
/// applied; with one, that file (+ `sets`). run.dir becomes the resumed run directory either way.
config::Config resume_config(const std::filesystem::path& resume, const std::string& config_file,
                             const std::vector<std::string>& sets);

/// Pretrains: distributed context from the launch environment, run dir + log + resolved config,
/// PretrainTask, Trainer (resumed when options.resume is set), run. Returns how it ended.
TrainResult run_pretrain(const config::Config& cfg, const PretrainOptions& options);

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

}  // namespace gtgm::train
