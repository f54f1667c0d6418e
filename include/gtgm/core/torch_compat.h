#pragma once
/// Shims over LibTorch API differences between 1.13 (Debian, CPU; what CI builds) and 2.x with
/// CUDA (clusters). Code elsewhere calls these, never the version-specific API.
#include <torch/torch.h>
#include <torch/version.h>

#include <string>

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

/// "1.13.0" / "2.6.0": the LibTorch this binary was compiled against.
std::string torch_version();
/// CUDA runtime and cuDNN versions as numbers (0 when not a CUDA build or no GPU).
long cuda_runtime_version();
long cudnn_version();

}  // namespace gtgm::core::compat
