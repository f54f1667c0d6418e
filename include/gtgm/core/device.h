#pragma once
/// Device selection ("auto|cpu|cuda|cuda:N") and mixed precision (fp32|bf16|fp16) with an
/// autocast guard that hides LibTorch version differences and refuses unsupported combinations.
#include <torch/torch.h>

#include <string>

#include "gtgm/core/precision.h"

namespace gtgm::core {

/// "auto" -> cuda:local_rank when CUDA is available, else cpu. "cuda:N" checks N < device count.
/// Throws ConfigError for anything else, listing the accepted forms.
torch::Device select_device(const std::string& spec, int local_rank = 0);

/// Number of visible CUDA devices (0 on CPU builds).
int cuda_device_count();

enum class Precision { FP32, BF16, FP16 };

/// Parses "auto|fp32|bf16|fp16". "auto" is resolved against a device by resolve_precision.
std::string precision_name(Precision p);

/// Whether this CPU executes bf16 natively (avx512_bf16 or amx_bf16 in /proc/cpuinfo). CPU bf16
/// autocast aborts on CPUs without it, so it is only ever enabled when this is true.
bool cpu_has_bf16();

/// Resolves the configured precision for a device:
/// auto -> bf16 on CUDA (fp32 on pre-Ampere) and on bf16-capable CPUs, else fp32;
/// bf16 on a CPU without bf16 -> fp32 with a warning; fp16 on CPU -> ConfigError.
Precision resolve_precision(PrecisionRequest requested, const torch::Device& device);

/// RAII autocast region for `device` at precision `p` (no-op for FP32). Nestable.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, Precision p);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool prev_enabled_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
};

/// CPUs this process may run on (its affinity mask: taskset, Slurm/cgroup cpusets), at least 1.
int available_cores();

/// The intra-op threads that `threads` = 0 means: OMP_NUM_THREADS when set, else available_cores() shared among the ranks of this
/// node (LOCAL_WORLD_SIZE, as torchrun and scripts/launch_local.sh set it), at least 1. LibTorch's
/// own default (physical cores as cpuinfo reads them) gave 1 thread on the 2-core CI VM and ignores
/// other ranks on the node.
int default_num_threads();

/// Sets intra-op threads; 0 = default_num_threads(). Returns the count set.
int set_num_threads(int threads);

}  // namespace gtgm::core
