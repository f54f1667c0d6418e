#include "gtgm/dist/context.h"

#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <cstdlib>
#include <mutex>

#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "process_group.h"

namespace gtgm::dist {
namespace {

struct GlobalState {
  std::mutex mutex;
  Context meta{torch::kCPU};  // rank, world, device, backend, timeout; its group is not kept
  std::weak_ptr<ProcessGroup> group;
  int rank = 0;
  int world = 1;
};

GlobalState& global_state() {
  static GlobalState s;
  return s;
}

}  // namespace

Context::Context(torch::Device device) : device_(device) {}

torch::Device Context::comm_device() const { return backend_ == "nccl" ? device_ : torch::Device(torch::kCPU); }

Context make_context(const LaunchEnv& launch, const config::DistConfig& cfg, torch::Device device) {
  Context ctx(device);
  ctx.rank_ = launch.rank;
  ctx.world_size_ = launch.world_size;
  ctx.local_rank_ = launch.local_rank;
  ctx.timeout_ = std::chrono::milliseconds(static_cast<int64_t>(cfg.timeout_s) * 1000);
  if (launch.world_size == 1) return ctx;

  using config::DistBackend;
  DistBackend backend = cfg.backend;
  if (backend == DistBackend::Auto) backend = device.is_cuda() ? DistBackend::NCCL : DistBackend::Gloo;
  if (backend == DistBackend::NCCL && !device.is_cuda()) {
    throw ConfigError(fmt::format("dist.backend=nccl needs a CUDA device, but run.device resolved to {}", device.str()));
  }
  if (device.is_cuda()) {
    // One GPU per local rank.
    const int count = core::cuda_device_count();
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    const bool own_gpu = count == 1 && visible != nullptr && std::string(visible).find(',') == std::string::npos;
    if (device.has_index()) {
      if (device.index() != launch.local_rank && !own_gpu) {
        GTGM_WARN("run.device={} on local rank {}: ranks usually use cuda:LOCAL_RANK (run.device=auto)", device.str(),
                  launch.local_rank);
      }
    } else if (own_gpu) {
      // The launcher gave each task its own GPU (srun --gpus-per-task=1: CUDA_VISIBLE_DEVICES=<one>).
      device = torch::Device(torch::kCUDA, 0);
    } else if (launch.local_rank >= count) {
      throw ConfigError(fmt::format("environment ({}): LOCAL_RANK={} but only {} CUDA device(s) are visible; start at "
                                    "most one process per GPU",
                                    launch.source, launch.local_rank, count));
    } else {
      device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(launch.local_rank));
    }
    c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(device);
  }
  ctx.device_ = device;
  ctx.backend_ = config::to_string(backend);
  core::set_log_rank(launch.rank, launch.world_size);

  GroupOptions opts;
  opts.rank = launch.rank;
  opts.world_size = launch.world_size;
  opts.master_addr = launch.master_addr;
  opts.master_port = launch.master_port;
  opts.backend = backend;
  opts.device = device;
  opts.timeout = ctx.timeout_;
  ctx.group_ = std::make_shared<ProcessGroup>(opts);
  GTGM_INFO("dist: {} ranks from {}, backend {}, master {}:{}, timeout {} s", launch.world_size, launch.source,
            ctx.backend_, launch.master_addr, launch.master_port, cfg.timeout_s);
  return ctx;
}

Context init_from_env(const config::DistConfig& cfg, torch::Device device, const EnvGetter& env) {
  const LaunchEnv launch = read_launch_env(env);
  Context ctx = make_context(launch, cfg, device);
  auto& g = global_state();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.meta = ctx;
  g.meta.group_.reset();
  g.group = ctx.group_;
  g.rank = ctx.rank();
  g.world = ctx.world_size();
  return ctx;
}

Context global() {
  auto& g = global_state();
  std::lock_guard<std::mutex> lock(g.mutex);
  Context ctx = g.meta;
  if (ctx.world_size() > 1) {
    ctx.group_ = g.group.lock();
    // The job's group is gone (its owner finished): what remains is this process alone.
    if (!ctx.group_) ctx = Context(ctx.device());
  }
  return ctx;
}

int rank() {
  auto& g = global_state();
  std::lock_guard<std::mutex> lock(g.mutex);
  return g.rank;
}

int world_size() {
  auto& g = global_state();
  std::lock_guard<std::mutex> lock(g.mutex);
  return g.world;
}

bool is_rank0() { return rank() == 0; }

}  // namespace gtgm::dist
