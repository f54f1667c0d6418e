#pragma once
/// `gtgm bench train`: steps/s, samples/s and achieved TFLOP/s of the GTGM pretraining step
/// (PretrainTask + Trainer: two views through the encoder, projections, caption lookup, CLIP +
/// Barlow, backward, clipping, AdamW) for the demo model and the paper's ResNet-50 at small sizes,
/// beside scripts/bench/train_reference.py (the same model + loss step in Python PyTorch, same
/// threads). Batches are generated in memory so the figures are the step alone.
#include <cstdint>
#include <string>
#include <vector>

namespace gtgm::bench {

struct TrainBenchOptions {
  /// "demo", "paper" or "both".
  std::string model = "both";
  std::string device = "cpu";
  /// fp32 | bf16 | fp16 | auto (run.precision).
  std::string precision = "fp32";
  int steps = 8;    ///< timed steps
  int warmup = 2;   ///< untimed steps first
  int threads = 0;  ///< intra-op threads (0 = LibTorch default)
  bool channels_last = false;
  /// Crop [D, H, W] and batch; empty / 0 = the model's default (paper on CUDA: 24x224x224, batch 2).
  std::vector<int64_t> crop;
  int64_t batch = 0;
  std::string reference_script = "scripts/bench/train_reference.py";  ///< "" = skip the Python reference
  std::string python = "/usr/bin/python3";
};

/// One implementation on one model.
struct TrainBenchResult {
  std::string impl;   ///< "gtgm" or "python"
  std::string model;  ///< "demo" or "paper"
  std::vector<int64_t> crop;
  int64_t batch = 0;
  int64_t parameters = 0;
  double step_s = 0;  ///< mean wall time per step (timed steps)
  double steps_per_s = 0;
  double samples_per_s = 0;
  double forward_gflops = 0;  ///< both views through encoder + projections, one step (B1's counter)
  double tflops = 0;          ///< 3 x forward FLOPs / step time (backward ~ 2 x forward)
  double peak_mem_mb = 0;     ///< CUDA peak allocated, or process RSS on CPU
};

/// Runs the gtgm step for each selected model.
std::vector<TrainBenchResult> run_train_bench(const TrainBenchOptions& options);
/// Runs the Python reference for one model (same sizes/threads) and parses its JSON line.
TrainBenchResult run_train_reference(const TrainBenchOptions& options, const TrainBenchResult& ours);
/// Table of gtgm vs Python with the C++/Python step-time ratio per model.
std::string format_train_bench(const TrainBenchOptions& options, const std::vector<TrainBenchResult>& ours,
                               const std::vector<TrainBenchResult>& reference);
/// The figures as JSON.
std::string train_bench_json(const TrainBenchOptions& options, const std::vector<TrainBenchResult>& ours,
                             const std::vector<TrainBenchResult>& reference);

}  // namespace gtgm::bench
