#pragma once
/// The host (CPU) memory allocator's settings for tensor work.
///
/// glibc's malloc returns every freed block above its mmap threshold (128 KiB at start, raised to at
/// most 32 MiB as blocks are freed) to the kernel, and trims the heap top above 128 KiB. A network's
/// activations are such blocks, allocated and freed on every forward, so each forward page-faults
/// all of them in again: on the 2-core CI machine this made 1-thread sliding-window inference 4-5x
/// slower than the same convolutions with the memory kept, and a second thread slower still (page
/// faults serialise in the kernel). Python's torch on the same LibTorch suffers the same.
/// docs/performance.md has the figures.
#include <functional>
#include <optional>
#include <string>

namespace gtgm::core {

/// What configure_host_allocator() did.
struct HostAllocatorTuning {
  bool applied = false;       ///< mallopt() was called and accepted
  std::string reason;         ///< one line: the settings, or why the allocator was left as it was
  long mmap_threshold = 0;    ///< bytes; 0 when not applied
  long trim_threshold = 0;    ///< bytes; 0 when not applied
};

/// Reads an environment variable (injected so that the decision can be tested).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// Decides whether gtgm should set glibc malloc's thresholds: not when `GTGM_MALLOC=system`, when
/// the user set glibc's own `MALLOC_*_` variables or `GLIBC_TUNABLES` with a malloc tunable, or when
/// LD_PRELOAD brings another allocator (jemalloc, tcmalloc, mimalloc). Returns the settings to
/// apply (applied = true) or the reason to leave the allocator alone. Does not call mallopt.
HostAllocatorTuning decide_host_allocator_tuning(const EnvLookup& env);

/// Applies decide_host_allocator_tuning() with the process environment: keeps freed tensor memory
/// (up to 1 GiB blocks below the mmap threshold, up to 1 GiB at the heap top) in the process instead
/// of returning it to the kernel after every free. A no-op on non-glibc platforms. Call once, first
/// thing in main(), before any thread starts.
HostAllocatorTuning configure_host_allocator();

/// What the last configure_host_allocator() in this process did ("not configured" before the first
/// call); `gtgm info` prints it.
HostAllocatorTuning host_allocator_state();

}  // namespace gtgm::core
