// `gtgm bench dist`: gradient-reduction cost on N local CPU ranks (Gloo): bucketed + overlapped
// vs after backward vs per-parameter blocking. Without RANK/WORLD_SIZE it starts the ranks itself.
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "bench_registry.h"
#include "gtgm/bench/dist_bench.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/dist/context.h"

namespace gtgm::cli {

namespace {

auto& dist_options() {
  static bench::DistBenchOptions o;
  return o;
}

void add_dist_options(CLI::App& cmd) {
  auto& o = dist_options();
  cmd.add_option("--dist-ranks", o.ranks, "dist: local ranks to start (when not already launched)");
  cmd.add_option("--dist-width", o.width, "dist: MLP width");
  cmd.add_option("--dist-depth", o.depth, "dist: MLP blocks (4 parameter tensors each)");
  cmd.add_option("--dist-batch", o.batch, "dist: rows per rank");
  cmd.add_option("--dist-rounds", o.rounds, "dist: interleaved measuring rounds (median reported)");
}

// This process's own command line, to start it again as ranks.
std::vector<std::string> own_argv() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  if (!args.empty()) args[0] = std::filesystem::read_symlink("/proc/self/exe").string();
  return args;
}

void run_dist(const BenchCommon& common) {
  auto o = dist_options();
  const auto cfg = load_config(common.config);
  o.dist = cfg.dist;
  o.threads = common.workers;
  if (common.iters > 0) o.iters = common.iters;
  if (common.warmup >= 0) o.warmup = common.warmup;
  if (dist::read_launch_env().world_size == 1) {
    // Not part of a job yet: become the launcher of a local one (this same command per rank).
    const int rc = bench::launch_ranks(o.ranks, own_argv());
    if (rc != 0) throw Error(fmt::format("bench dist: a rank failed (exit code {})", rc), "");
    return;
  }
  const auto r = bench::run_dist_bench(o);
  if (!dist::is_rank0()) return;
  std::cout << fmt::format(
      "bench dist: {} ranks (gloo, CPU, {} thread(s) each), residual MLP {}x{} = {:.2f} M "
      "parameters in {} tensors ({:.1f} MB of fp32 gradients), batch {} per rank, {} steps "
      "after {} warm-up in {} interleaved rounds (median), buckets of {} MB (dist.bucket_mb)\n",
      r.world_size, r.threads, o.depth, o.width, r.parameters / 1e6, r.tensors, r.grad_mb, o.batch, o.iters, o.warmup,
      o.rounds, o.dist.bucket_mb);
  const double base = r.modes.empty() ? 0 : r.modes.front().ms_per_step;
  for (const auto& m : r.modes) {
    std::string extra;
    if (m.collectives_per_step > 0) {
      extra =
          fmt::format("  +{:6.2f} ms over compute, {} collectives/step", m.ms_per_step - base, m.collectives_per_step);
      if (m.buckets_overlapped > 0) extra += fmt::format(", {} launched during backward", m.buckets_overlapped);
    }
    std::cout << fmt::format("  {:<36} {:8.2f} ms/step{}\n", m.name, m.ms_per_step, extra);
  }
  if (!common.json.empty()) core::atomic_write_text(common.json, bench::to_json(r, o) + "\n");
}

}  // namespace

GTGM_REGISTER_BENCH("dist", "gradient all-reduce on N local CPU ranks: bucketed+overlapped vs per-parameter blocking",
                    add_dist_options, run_dist);

}  // namespace gtgm::cli
