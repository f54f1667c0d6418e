#include "gtgm/bench/dist_bench.h"

#include <signal.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <thread>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/dist/collectives.h"
#include "gtgm/dist/context.h"
#include "gtgm/dist/local_launch.h"
#include "gtgm/dist/reducer.h"

namespace gtgm::bench {
namespace {

// A residual MLP with many parameter tensors of two sizes (weights, and small biases / norms).
struct BenchNetImpl : torch::nn::Module {
  BenchNetImpl(int64_t width, int64_t depth) {
    for (int64_t i = 0; i < depth; ++i) {
      fc.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(width, width)));
      norm.push_back(
          register_module("norm" + std::to_string(i), torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}))));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    for (std::size_t i = 0; i < fc.size(); ++i) x = x + torch::relu(norm[i](fc[i](x)));
    return x;
  }
  std::vector<torch::nn::Linear> fc;
  std::vector<torch::nn::LayerNorm> norm;
};
TORCH_MODULE(BenchNet);

}  // namespace

DistBenchResult run_dist_bench(const DistBenchOptions& o) {
  GTGM_CHECK(o.width > 0 && o.depth > 0 && o.batch > 0 && o.iters > 0 && o.warmup >= 0,
             "bench dist: width, depth, batch and iters must be > 0 and warmup >= 0");
  dist::Context ctx = dist::init_from_env(o.dist, torch::kCPU);
  GTGM_CHECK(ctx.distributed(), "bench dist: run as a job of >= 2 ranks (launch_ranks, torchrun or srun)");
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = o.threads > 0 ? o.threads : std::max(1, static_cast<int>(cores) / ctx.world_size());
  torch::set_num_threads(threads);

  torch::manual_seed(0);
  BenchNet net(o.width, o.depth);
  DistBenchResult result;
  result.world_size = ctx.world_size();
  result.threads = threads;
  for (const auto& p : net->parameters()) {
    result.parameters += p.numel();
    ++result.tensors;
  }
  result.grad_mb = static_cast<double>(result.parameters) * 4.0 / (1024.0 * 1024.0);
  torch::manual_seed(1 + ctx.rank());
  const torch::Tensor x = torch::randn({o.batch, o.width});
  const torch::Tensor y = torch::randn({o.batch, o.width});
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(1e-3));

  struct Mode {
    std::string name;
    std::optional<dist::ReduceMode> mode;
  };
  const std::vector<Mode> modes{{"compute only (no reduction)", std::nullopt},
                                {"bucketed, overlapped with backward", dist::ReduceMode::Bucketed},
                                {"bucketed, after backward", dist::ReduceMode::BucketedAfterBackward},
                                {"per-parameter, blocking", dist::ReduceMode::PerParameter}};
  // Every mode keeps its reducer; rounds interleave the modes so that a change in machine load
  // affects all of them alike; a mode's figure is the median of its rounds.
  std::vector<std::unique_ptr<dist::Reducer>> reducers;
  for (const auto& m : modes) {
    reducers.push_back(m.mode ? std::make_unique<dist::Reducer>(*net, ctx, o.dist.bucket_mb, *m.mode) : nullptr);
  }
  auto step = [&](dist::Reducer* reducer) {
    opt.zero_grad();
    const torch::Tensor loss = torch::mse_loss(net->forward(x), y);
    if (reducer) reducer->prepare_backward({loss});
    loss.backward();
    if (reducer) reducer->finish();
    opt.step();
  };
  const int rounds = std::max(1, o.rounds);
  const int per_round = std::max(1, o.iters / rounds);
  std::vector<std::vector<double>> times(modes.size());
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t k = 0; k < modes.size(); ++k) {
      // The other modes' reducers stay silent (their hooks fire too, inside no_sync they do nothing).
      dist::Reducer* reducer = reducers[k].get();
      std::vector<std::unique_ptr<dist::Reducer::NoSyncGuard>> silent;
      for (std::size_t j = 0; j < reducers.size(); ++j) {
        if (j != k && reducers[j]) silent.push_back(std::make_unique<dist::Reducer::NoSyncGuard>(*reducers[j]));
      }
      for (int i = 0; i < (round == 0 ? o.warmup : 0); ++i) step(reducer);
      dist::barrier(ctx);
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < per_round; ++i) step(reducer);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / per_round;
      torch::Tensor slowest = torch::full({1}, ms, torch::kFloat64);
      dist::all_reduce_(slowest, ctx, dist::ReduceOp::Max);
      times[k].push_back(slowest.item<double>());
    }
  }
  for (std::size_t k = 0; k < modes.size(); ++k) {
    std::vector<double> t = times[k];
    std::sort(t.begin(), t.end());
    DistBenchMode r;
    r.name = modes[k].name;
    r.ms_per_step = t[t.size() / 2];
    if (reducers[k]) {
      const bool per_param = *modes[k].mode == dist::ReduceMode::PerParameter;
      r.collectives_per_step =
          (per_param ? result.tensors : static_cast<int64_t>(reducers[k]->bucket_bytes().size())) + 1;  // + used-mask
      r.buckets_overlapped = per_param ? 0 : reducers[k]->buckets_overlapped();
    }
    result.modes.push_back(r);
    GTGM_INFO("bench dist: {:<36} {:8.2f} ms/step (median of {} rounds)", r.name, r.ms_per_step, rounds);
  }
  return result;
}

int launch_ranks(int ranks, const std::vector<std::string>& argv) {
  GTGM_CHECK(ranks >= 2, "bench dist: --dist-ranks must be >= 2, got {}", ranks);
  GTGM_CHECK(!argv.empty(), "launch_ranks: empty command");
  const int port = dist::free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < ranks; ++r) {
    auto vars = dist::current_environment();
    dist::set_torchrun_env(vars, r, ranks, port);
    vars["LOCAL_WORLD_SIZE"] = std::to_string(ranks);
    pids.push_back(dist::spawn_process(argv, vars, r > 0 ? "/dev/null" : ""));
  }
  // Wait for all; after the first failure, give the others the timeout to notice, then stop them.
  int first_failure = 0;
  std::size_t done = 0;
  std::vector<bool> finished(pids.size(), false);
  std::chrono::steady_clock::time_point failed_at;
  while (done < pids.size()) {
    for (std::size_t i = 0; i < pids.size(); ++i) {
      if (finished[i]) continue;
      const std::optional<int> ended = dist::reap_process(pids[i], /*block=*/false);
      if (!ended) continue;
      finished[i] = true;
      ++done;
      const int code = *ended;
      if (code != 0 && first_failure == 0) {
        first_failure = code;
        failed_at = std::chrono::steady_clock::now();
        GTGM_ERROR("launch_ranks: rank {} exited with code {}", i, code);
      }
    }
    if (first_failure != 0 && std::chrono::steady_clock::now() - failed_at > std::chrono::seconds(60)) {
      for (std::size_t i = 0; i < pids.size(); ++i) {
        if (!finished[i]) ::kill(pids[i], SIGTERM);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return first_failure;
}

std::string to_json(const DistBenchResult& r, const DistBenchOptions& o) {
  std::string modes;
  for (const auto& m : r.modes) {
    modes += fmt::format(
        "{}{{\"name\": \"{}\", \"ms_per_step\": {:.4f}, \"collectives_per_step\": {}, "
        "\"buckets_overlapped\": {}}}",
        modes.empty() ? "" : ", ", m.name, m.ms_per_step, m.collectives_per_step, m.buckets_overlapped);
  }
  return fmt::format(
      "{{\"bench\": \"dist\", \"world_size\": {}, \"threads_per_rank\": {}, \"width\": {}, "
      "\"depth\": {}, \"batch_per_rank\": {}, \"parameters\": {}, \"tensors\": {}, \"grad_mb\": {:.3f}, "
      "\"bucket_mb\": {}, \"iters\": {}, \"modes\": [{}]}}",
      r.world_size, r.threads, o.width, o.depth, o.batch, r.parameters, r.tensors, r.grad_mb, o.dist.bucket_mb, o.iters,
      modes);
}

}  // namespace gtgm::bench
