// `gtgm bench infer`: sliding-window inference voxels/s and peak memory, gtgm vs the MONAI-style
// Python reference (scripts/bench/infer_reference.py) on the same model, input and windows.
#include <iostream>

#include "bench_registry.h"
#include "gtgm/bench/infer_bench.h"
#include "gtgm/core/atomic_file.h"

namespace gtgm::cli {

namespace {

struct InferCliOptions {
  bench::InferBenchOptions bench;
  bool no_reference = false;
};

InferCliOptions& infer_options() {
  static InferCliOptions o;
  return o;
}

void add_infer_options(CLI::App& cmd) {
  auto& o = infer_options();
  cmd.add_option("--infer-size", o.bench.size, "infer: volume D H W (default 48 96 96)");
  cmd.add_option("--infer-patch", o.bench.patch, "infer: window D H W (default 32 64 64)");
  cmd.add_option("--infer-overlap", o.bench.overlap, "infer: window overlap (default 0.5)");
  cmd.add_option("--infer-batch", o.bench.batch, "infer: windows per forward (default 2)");
  cmd.add_option("--infer-channels", o.bench.channels, "infer: conv stack width (default 16)");
  cmd.add_option("--infer-classes", o.bench.classes, "infer: output classes (default 3)");
  cmd.add_option("--infer-device", o.bench.device, "infer: cpu, cuda, cuda:N or auto (default cpu)");
  cmd.add_option("--infer-accumulate", o.bench.accumulate_dtype, "infer: accumulator dtype float32|float16")
      ->check(CLI::IsMember({"float32", "float16"}));
  cmd.add_option("--infer-reference", o.bench.reference_script,
                 "infer: Python reference script (default scripts/bench/infer_reference.py)");
  cmd.add_option("--infer-python", o.bench.python,
                 "infer: Python interpreter for the reference (default /usr/bin/python3)");
  cmd.add_flag("--infer-no-reference", o.no_reference, "infer: skip the Python reference");
}

void run_infer(const BenchCommon& common) {
  auto o = infer_options();
  o.bench.threads = common.workers;
  if (common.iters > 0) o.bench.repeats = common.iters;
  const bench::InferBenchResult ours = bench::run_infer_bench(o.bench);
  bench::InferBenchResult ref;
  if (!o.no_reference) ref = bench::run_infer_reference(o.bench);
  const bench::InferBenchResult* ref_ptr = o.no_reference ? nullptr : &ref;
  std::cout << bench::format_infer_bench(o.bench, ours, ref_ptr);
  if (!common.json.empty())
    core::atomic_write_text(common.json, bench::infer_bench_json(o.bench, ours, ref_ptr) + "\n");
}

}  // namespace

GTGM_REGISTER_BENCH("infer", "sliding-window inference voxels/s and peak memory vs the Python reference",
                    add_infer_options, run_infer);

}  // namespace gtgm::cli
