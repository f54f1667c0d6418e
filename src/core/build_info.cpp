#include "gtgm/core/build_info.h"

#include <fmt/format.h>

#include <thread>

#include "gtgm/core/device.h"
#include "gtgm/core/host_allocator.h"
#include "gtgm/core/torch_compat.h"
#include "gtgm/version_info.h"

namespace gtgm::core {

std::string gtgm_version() { return GTGM_VERSION_STRING; }
std::string gtgm_git_hash() { return GTGM_GIT_HASH; }

std::vector<std::pair<std::string, std::string>> build_info_rows() {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("gtgm", gtgm_version());
  rows.emplace_back("git", gtgm_git_hash());
  rows.emplace_back("LibTorch", compat::torch_version());
  const int gpus = cuda_device_count();
  const long cudart = compat::cuda_runtime_version();
  rows.emplace_back("CUDA", torch::cuda::is_available()
                                ? fmt::format("yes (runtime {}.{}, {} device(s))", cudart / 1000, (cudart % 1000) / 10, gpus)
                                : "no");
  const long cudnn = compat::cudnn_version();
  rows.emplace_back("cuDNN", cudnn > 0 ? fmt::format("yes ({})", cudnn) : "no");
#ifdef GTGM_HAVE_NCCL
  rows.emplace_back("NCCL", "yes (c10d ProcessGroupNCCL)");
#else
  rows.emplace_back("NCCL", "no (LibTorch built without CUDA/NCCL)");
#endif
#ifdef USE_C10D_GLOO
  rows.emplace_back("Gloo", "yes (c10d ProcessGroupGloo)");
#else
  rows.emplace_back("Gloo", "no");
#endif
  rows.emplace_back("threads", fmt::format("{} intra-op ({} hardware)", torch::get_num_threads(),
                                           std::thread::hardware_concurrency()));
  rows.emplace_back("host allocator", host_allocator_state().reason);
  rows.emplace_back("CPU bf16", cpu_has_bf16() ? "yes (avx512_bf16/amx)" : "no (CPU bf16 autocast disabled)");
  return rows;
}

}  // namespace gtgm::core
