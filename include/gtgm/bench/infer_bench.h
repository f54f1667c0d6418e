#pragma once
/// `gtgm bench infer`: sliding-window inference throughput (voxels/s) and peak memory of
/// infer::sliding_window_segment, beside the MONAI-style Python reference
/// scripts/bench/infer_reference.py run on the same deterministic model and input.
#include <array>
#include <cstdint>
#include <string>

namespace gtgm::bench {

struct InferBenchOptions {
  std::array<int64_t, 3> size{48, 96, 96};   ///< volume [D, H, W]
  std::array<int64_t, 3> patch{32, 64, 64};  ///< window [pd, ph, pw]
  double overlap = 0.5;
  int64_t batch = 2;      ///< windows per forward
  int64_t channels = 16;  ///< width of the conv stack
  int64_t classes = 3;    ///< output channels
  std::string device = "cpu";
  std::string accumulate_dtype = "float32";  ///< "float32" or "float16"
  int repeats = 2;                           ///< timed runs after one warm-up; the best is reported
  int threads = 0;                           ///< intra-op threads (0 = LibTorch default)
  /// Python reference to run for the comparison ("" = skip); its interpreter.
  std::string reference_script = "scripts/bench/infer_reference.py";
  std::string python = "/usr/bin/python3";
};

/// One implementation's figures.
struct InferBenchResult {
  std::string impl;
  double seconds = 0;             ///< best of the timed runs
  double voxels_per_s = 0;        ///< D*H*W / seconds
  double host_peak_delta_mb = 0;  ///< peak RSS during the timed runs minus RSS before them
  double device_peak_mb = -1;     ///< CUDA peak allocated (-1 on CPU)
  double checksum = 0;            ///< mean of the blended logits (the same on both sides)
  int64_t label_sum = 0;          ///< sum of the argmax labels
};

/// Runs gtgm's sliding window on a fixed conv stack (conv3x3x3(1->ch), ReLU, conv3x3x3(ch->ch),
/// ReLU, conv1x1x1(ch->classes); weights 0.1 sin(0.37 k + i) for parameter i) over a fixed input.
InferBenchResult run_infer_bench(const InferBenchOptions& options);

/// Runs the Python reference with the same options and parses its JSON line. Throws naming the
/// command and its output when it fails.
InferBenchResult run_infer_reference(const InferBenchOptions& options);

/// The comparison table (gtgm, reference, ratio) as printed by `gtgm bench infer`.
std::string format_infer_bench(const InferBenchOptions& options, const InferBenchResult& ours,
                               const InferBenchResult* reference);

/// The figures as JSON (options, gtgm, reference when given, ratios).
std::string infer_bench_json(const InferBenchOptions& options, const InferBenchResult& ours,
                             const InferBenchResult* reference);

}  // namespace gtgm::bench
