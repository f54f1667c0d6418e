#pragma once
/// Shims over LibTorch API differences between 1.13 (Debian, CPU; what CI builds) and 2.x with
/// CUDA (clusters). Code elsewhere calls these, never the version-specific API.
#include <torch/torch.h>
#include <torch/version.h>

#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#define GTGM_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace gtgm::core::compat {

/// Enables/disables autocast for a device type with the given lower-precision dtype.
void set_autocast(c10::DeviceType device_type, bool enabled, c10::ScalarType dtype);
/// Whether autocast is enabled for a device type.
bool autocast_enabled(c10::DeviceType device_type);
/// Clears autocast's cast cache (call when leaving the outermost autocast region).
void autocast_clear_cache();
/// Entering/leaving nested autocast regions (the cache is cleared when the nesting drops to 0).
int autocast_increment_nesting();
int autocast_decrement_nesting();

/// The key under which LibTorch's optimisers keep a parameter's state in `opt.state()`: the
/// TensorImpl address printed as text in 1.13, the TensorImpl* itself in 2.x.
template <class Optimizer>
auto optim_state_key(const Optimizer& opt, const at::Tensor& param) {
  using Key = typename std::decay_t<decltype(opt.state())>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream ss;  // what c10::guts::to_string(TensorImpl*) prints
    ss << param.unsafeGetTensorImpl();
    return ss.str();
  } else {
    return static_cast<Key>(param.unsafeGetTensorImpl());
  }
}

/// What `torch::autograd::impl::grad_accumulator` returns: std::shared_ptr<Node> up to LibTorch
/// 2.13, c10::intrusive_ptr<Node> from 2.14 on. Hold accumulators (and their hooks) in this type.
using GradAccumulatorPtr =
    decltype(torch::autograd::impl::grad_accumulator(std::declval<const torch::autograd::Variable&>()));

/// Peak bytes allocated by the CUDA caching allocator on `device_index` since the start or the
/// last reset (0 on builds without CUDA).
int64_t cuda_peak_allocated_bytes(int device_index);
/// Resets that peak.
void cuda_reset_peak_allocated(int device_index);

/// Counts the synchronising CUDA calls (a device-to-host copy, `.item()`, a stream sync: what
/// LibTorch's sync-debug mode reports) made on this thread while it lives, and keeps where the
/// first few came from. Other warnings go on to the previous handler. The warning-handler API
/// differs between 1.13 and 2.x; this hides it. Throws on builds without CUDA.
class CudaSyncCounter {
 public:
  CudaSyncCounter();
  ~CudaSyncCounter();
  CudaSyncCounter(const CudaSyncCounter&) = delete;
  CudaSyncCounter& operator=(const CudaSyncCounter&) = delete;
  int64_t count() const;
  /// Backtraces of the first 3 synchronisations.
  std::vector<std::string> first_sites() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// "1.13.0" / "2.6.0": the LibTorch this binary was compiled against.
std::string torch_version();
/// CUDA runtime and cuDNN versions as numbers (0 when not a CUDA build or no GPU).
long cuda_runtime_version();
long cudnn_version();

}  // namespace gtgm::core::compat
