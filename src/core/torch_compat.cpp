#include "gtgm/core/torch_compat.h"

#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#ifdef GTGM_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/util/Backtrace.h>
#include <c10/util/Exception.h>
#endif

#include "gtgm/core/error.h"

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

#ifdef GTGM_HAVE_CUDA
struct CudaSyncCounter::Impl : c10::WarningHandler {
  c10::WarningHandler* previous = nullptr;
  c10::cuda::SyncDebugMode previous_mode = c10::cuda::SyncDebugMode::L_DISABLED;
  int64_t count = 0;
  std::vector<std::string> sites;

  // Returns true when the warning was a synchronisation report (counted, not passed on).
  bool take(const std::string& msg) {
    if (msg.find("synchronizing CUDA operation") == std::string::npos) return false;
    ++count;
    if (sites.size() < 3) sites.push_back(c10::get_backtrace(/*frames_to_skip=*/2, /*maximum_number_of_frames=*/24));
    return true;
  }
#if GTGM_TORCH_AT_LEAST(2, 0)
  void process(const c10::Warning& warning) override {
    if (!take(warning.msg()) && previous) previous->process(warning);
  }
#else
  void process(const c10::SourceLocation& where, const std::string& msg, const bool verbatim) override {
    if (!take(msg) && previous) previous->process(where, msg, verbatim);
  }
#endif
};

#if GTGM_TORCH_AT_LEAST(2, 0)
namespace warning_api = c10::WarningUtils;
#else
namespace warning_api = c10::Warning;
#endif

CudaSyncCounter::CudaSyncCounter() : impl_(std::make_unique<Impl>()) {
  impl_->previous = warning_api::get_warning_handler();
  impl_->previous_mode = c10::cuda::warning_state().get_sync_debug_mode();
  warning_api::set_warning_handler(impl_.get());
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_WARN);
}

CudaSyncCounter::~CudaSyncCounter() {
  c10::cuda::warning_state().set_sync_debug_mode(impl_->previous_mode);
  warning_api::set_warning_handler(impl_->previous);
}

int64_t CudaSyncCounter::count() const { return impl_->count; }
std::vector<std::string> CudaSyncCounter::first_sites() const { return impl_->sites; }
#else
struct CudaSyncCounter::Impl {};
CudaSyncCounter::CudaSyncCounter() {
  GTGM_THROW("CudaSyncCounter: this gtgm was built without CUDA (LibTorch {})", TORCH_VERSION);
}
CudaSyncCounter::~CudaSyncCounter() = default;
int64_t CudaSyncCounter::count() const { return 0; }
std::vector<std::string> CudaSyncCounter::first_sites() const { return {}; }
#endif

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
