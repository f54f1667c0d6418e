// `gtgm bench train`: the GTGM pretraining step (demo and paper models) vs the Python reference
// (scripts/bench/train_reference.py) on the same model, sizes and threads.
#include <iostream>

#include "bench_registry.h"
#include "gtgm/bench/train_bench.h"
#include "gtgm/core/atomic_file.h"

namespace gtgm::cli {

namespace {

struct TrainCliOptions {
  bench::TrainBenchOptions bench;
  bool no_reference = false;
};

TrainCliOptions& train_options() {
  static TrainCliOptions o;
  return o;
}

void add_train_options(CLI::App& cmd) {
  auto& o = train_options();
  cmd.add_option("--train-model", o.bench.model, "train: demo, paper or both (default both)")
      ->check(CLI::IsMember({"demo", "paper", "both"}));
  cmd.add_option("--train-device", o.bench.device, "train: cpu, cuda, cuda:N or auto (default cpu)");
  cmd.add_option("--train-precision", o.bench.precision, "train: fp32, bf16, fp16 or auto (default fp32)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16", "auto"}));
  cmd.add_option("--train-crop", o.bench.crop, "train: crop D H W (default per model)")->expected(3);
  cmd.add_option("--train-batch", o.bench.batch, "train: batch size (default per model)");
  cmd.add_flag("--train-channels-last", o.bench.channels_last, "train: channels-last-3d (CUDA)");
  cmd.add_option("--train-reference", o.bench.reference_script,
                 "train: Python reference script (default scripts/bench/train_reference.py)");
  cmd.add_option("--train-python", o.bench.python, "train: Python interpreter (default /usr/bin/python3)");
  cmd.add_flag("--train-no-reference", o.no_reference, "train: skip the Python reference");
}

void run_train(const BenchCommon& common) {
  auto o = train_options();
  o.bench.threads = common.workers;
  if (common.iters > 0) o.bench.steps = common.iters;
  if (common.warmup >= 0) o.bench.warmup = common.warmup;
  const auto ours = bench::run_train_bench(o.bench);
  std::vector<bench::TrainBenchResult> ref;
  if (!o.no_reference) {
    for (const auto& r : ours) ref.push_back(bench::run_train_reference(o.bench, r));
  }
  std::cout << bench::format_train_bench(o.bench, ours, ref);
  if (!common.json.empty()) core::atomic_write_text(common.json, bench::train_bench_json(o.bench, ours, ref) + "\n");
}

}  // namespace

GTGM_REGISTER_BENCH("train",
                    "GTGM pretraining steps/s, samples/s, TFLOP/s (demo + paper models) vs the Python reference",
                    add_train_options, run_train);

}  // namespace gtgm::cli
