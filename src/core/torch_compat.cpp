#include "gtgm/core/torch_compat.h"

#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#ifdef GTGM_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace gtgm::core::compat {

void set_autocast(c10::DeviceType device_type, bool enabled, c10::ScalarType dtype) {
#if GTGM_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device_type, enabled);
  at::autocast::set_autocast_dtype(device_type, dtype);
#else
  if (device_type == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

bool autocast_enabled(c10::DeviceType device_type) {
#if GTGM_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device_type);
#else
  return device_type == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

void autocast_clear_cache() { at::autocast::clear_cache(); }
int autocast_increment_nesting() { return at::autocast::increment_nesting(); }
int autocast_decrement_nesting() { return at::autocast::decrement_nesting(); }

int64_t cuda_peak_allocated_bytes(int device_index) {
#ifdef GTGM_HAVE_CUDA
  // Stat index 0 is StatType::AGGREGATE in every version (the enum moved namespaces in 2.x).
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device_index));
  return stats.allocated_bytes[0].peak;
#else
  (void)device_index;
  return 0;
#endif
}

void cuda_reset_peak_allocated(int device_index) {
#ifdef GTGM_HAVE_CUDA
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device_index));
#else
  (void)device_index;
#endif
}

std::string torch_version() { return TORCH_VERSION; }

long cuda_runtime_version() {
  const auto& hooks = at::detail::getCUDAHooks();
  if (!hooks.hasCUDA()) return 0;
  return hooks.versionCUDART();
}

long cudnn_version() {
  const auto& hooks = at::detail::getCUDAHooks();
  if (!hooks.hasCUDA() || !hooks.hasCuDNN()) return 0;
  return hooks.versionCuDNN();
}

}  // namespace gtgm::core::compat
