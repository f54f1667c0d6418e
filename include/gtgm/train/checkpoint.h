#pragma once
/// Training checkpoints: one directory per saved step under RUN_DIR/checkpoints/, written
/// atomically (temp dir + rename) with a manifest of SHA-256 checksums so that a corrupted or
/// partial directory is detected and the previous checkpoint is used instead.
///
/// step_000001000/
///   model.safetensors      weights (parameters + buffers, keys = module paths)
///   optimizer.safetensors  per-parameter optimiser state ("<param>.exp_avg", ...)
///   optimizer.json         optimiser name, groups, per-parameter step counts
///   rng.safetensors        torch generator states ("cpu", "cuda:0", ...)
///   trainer.json           step, grad scaler, schedule, counters, best score, std RNG engines
///   loader.json            the task's state (loader position, task RNG streams)
///   config.yaml            the resolved config of the run
///   manifest.json          format, version, gtgm version, step, size + sha256 of every file above
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/io/safetensors.h"

namespace gtgm::train {

/// "gtgm-checkpoint", the `format` field of manifest.json, and its version.
inline constexpr const char* kCheckpointFormat = "gtgm-checkpoint";
inline constexpr int kCheckpointVersion = 1;

/// Everything a checkpoint holds, in memory.
struct CheckpointData {
  int64_t step = 0;
  io::NamedTensors weights;
  io::NamedTensors optimizer;
  nlohmann::json optimizer_meta = nlohmann::json::object();
  io::NamedTensors rng;
  nlohmann::json trainer = nlohmann::json::object();
  nlohmann::json loader = nlohmann::json::object();
  std::string config_yaml;
};

/// RUN_DIR/checkpoints.
std::filesystem::path checkpoints_root(const std::filesystem::path& run_dir);
/// RUN_DIR/checkpoints/step_000001234.
std::filesystem::path checkpoint_dir(const std::filesystem::path& run_dir, int64_t step);

/// Writes `data` to `dir` atomically; manifest.json is written last, inside the temp directory.
void write_checkpoint(const std::filesystem::path& dir, const CheckpointData& data);
/// "" when `dir` is a complete checkpoint (manifest present, right format/version, every listed
/// file present with the recorded size and SHA-256), else what is wrong ("model.safetensors:
/// sha256 mismatch (corrupted)").
std::string verify_checkpoint(const std::filesystem::path& dir);
/// Reads a checkpoint after verifying it; throws gtgm::Error naming the directory and the problem.
CheckpointData read_checkpoint(const std::filesystem::path& dir);
/// The manifest of a checkpoint (throws when missing or not JSON).
nlohmann::json read_manifest(const std::filesystem::path& dir);

/// (step, dir) of every step_* directory of a run, newest first (unverified).
std::vector<std::pair<int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& run_dir);
/// The newest checkpoint of a run that verifies. Newer ones that fail are appended to `rejected`
/// as "<dir>: <reason>". nullopt when there is none.
std::optional<std::filesystem::path> latest_valid_checkpoint(const std::filesystem::path& run_dir,
                                                             std::vector<std::string>* rejected = nullptr);
/// A checkpoint dir given either itself or a run dir (its latest valid checkpoint, or the best one
/// when `best`); throws naming the path and the rejected checkpoints when there is none.
std::filesystem::path resolve_checkpoint(const std::filesystem::path& path, bool best = false);
/// Removes all but the newest `keep_last` checkpoints, always keeping step `keep_step` (the best;
/// -1 for none). Leftover temp dirs of interrupted writes are removed too.
void prune_checkpoints(const std::filesystem::path& run_dir, int keep_last, int64_t keep_step);

/// RUN_DIR/checkpoints/best.json: {"step", "score", "metric", "higher_is_better"} (atomic write).
void write_best(const std::filesystem::path& run_dir, const nlohmann::json& best);
/// The best record, or null when none was written.
nlohmann::json read_best(const std::filesystem::path& run_dir);

/// Torch generator states: "cpu" and "cuda:<i>" for every visible device (uint8 tensors).
io::NamedTensors capture_torch_rng();
/// Restores capture_torch_rng(); a saved CUDA state for a device that is not visible is an error.
void restore_torch_rng(const io::NamedTensors& states);
/// The process-wide std engine (core::global_engine) as text.
nlohmann::json capture_std_rng();
void restore_std_rng(const nlohmann::json& state);

}  // namespace gtgm::train
