#pragma once
/// `gtgm bench dist`: the cost of data-parallel gradient reduction on N CPU ranks (Gloo): step
/// time of a plain training step with (a) no reduction (compute only), (b) dist::Reducer's buckets
/// launched from gradient hooks while backward runs, (c) the same buckets after backward, and
/// (d) one blocking all-reduce per parameter (what C++ users write without DDP).
/// Run as rank of a job (RANK/WORLD_SIZE set); launch_ranks starts the job locally.
#include <cstdint>
#include <string>
#include <vector>

#include "gtgm/config/dist_config.h"

namespace gtgm::bench {

struct DistBenchOptions {
  int ranks = 2;            ///< processes started by launch_ranks
  int threads = 0;          ///< intra-op threads per rank; 0 = cores / ranks
  int64_t width = 1024;     ///< MLP width
  int64_t depth = 16;       ///< residual blocks (Linear + LayerNorm: 4 parameter tensors each)
  int64_t batch = 64;       ///< rows per rank
  int iters = 30;           ///< measured steps per mode (split over the rounds)
  int rounds = 5;           ///< interleaved rounds; each mode's figure is the median over them
  int warmup = 3;           ///< untimed steps per mode
  config::DistConfig dist;  ///< bucket_mb, timeout
};

/// One reduction mode's figures (per round: the max over ranks of the mean step time; then the
/// median over rounds).
struct DistBenchMode {
  std::string name;
  double ms_per_step = 0;
  int64_t collectives_per_step = 0;
  int64_t buckets_overlapped = 0;  ///< bucketed: buckets launched before finish()
};

struct DistBenchResult {
  int world_size = 1;
  int threads = 1;
  int64_t parameters = 0;
  int64_t tensors = 0;
  double grad_mb = 0;
  std::vector<DistBenchMode> modes;
};

/// Runs every mode in this process as one rank (init_from_env); every rank returns the figures.
DistBenchResult run_dist_bench(const DistBenchOptions& options);

/// Starts `ranks` copies of `argv` (argv[0] = the executable) as a local job (RANK, WORLD_SIZE,
/// LOCAL_RANK, MASTER_ADDR=127.0.0.1, MASTER_PORT = a free port); rank 0 keeps stdout/stderr, the
/// others print to stderr only. Returns 0 when every rank exits 0, else the first non-zero exit
/// code (128 + signal for a killed rank); the other ranks are stopped after a rank fails.
int launch_ranks(int ranks, const std::vector<std::string>& argv);

/// The figures as a JSON object.
std::string to_json(const DistBenchResult& r, const DistBenchOptions& o);

}  // namespace gtgm::bench
