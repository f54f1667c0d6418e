#include "gtgm/core/host_allocator.h"

#include <fmt/format.h>

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gtgm::core {

namespace {

constexpr long kMmapThreshold = 1L << 30;  // blocks up to 1 GiB come from (and go back to) the heap
constexpr long kTrimThreshold = 1L << 30;  // up to 1 GiB of free heap top is kept

HostAllocatorTuning& allocator_state() {
  static HostAllocatorTuning s{false, "not configured: glibc malloc at its defaults", 0, 0};
  return s;
}

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

}  // namespace

HostAllocatorTuning decide_host_allocator_tuning(const EnvLookup& env) {
  HostAllocatorTuning t;
  if (const auto v = env("GTGM_MALLOC")) {
    if (*v == "system") {
      t.reason = "GTGM_MALLOC=system: glibc malloc left at its defaults";
      return t;
    }
    if (!v->empty() && *v != "tuned") {
      t.reason = fmt::format("GTGM_MALLOC={} is not one of tuned, system: glibc malloc left at its defaults", *v);
      return t;
    }
  }
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_ARENA_MAX"}) {
    if (env(name)) {
      t.reason = fmt::format("{} is set: the environment's malloc settings are used", name);
      return t;
    }
  }
  if (const auto v = env("GLIBC_TUNABLES"); v && contains(*v, "glibc.malloc.")) {
    t.reason = "GLIBC_TUNABLES sets glibc.malloc tunables: the environment's malloc settings are used";
    return t;
  }
  if (const auto v = env("LD_PRELOAD")) {
    for (const char* lib : {"jemalloc", "tcmalloc", "mimalloc"}) {
      if (contains(*v, lib)) {
        t.reason = fmt::format("LD_PRELOAD brings {}: glibc malloc settings do not apply", lib);
        return t;
      }
    }
  }
  t.applied = true;
  t.mmap_threshold = kMmapThreshold;
  t.trim_threshold = kTrimThreshold;
  t.reason = fmt::format(
      "glibc malloc keeps freed tensor memory: mmap threshold {} MiB, trim threshold {} MiB (GTGM_MALLOC=system "
      "turns this off)",
      kMmapThreshold >> 20, kTrimThreshold >> 20);
  return t;
}

HostAllocatorTuning configure_host_allocator() {
  HostAllocatorTuning t = decide_host_allocator_tuning([](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  });
#if defined(__GLIBC__)
  if (t.applied) {
    // Both or neither: a raised mmap threshold with the default trim threshold still returns the
    // heap top to the kernel after each free (measured: most of the loss remains).
    if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(t.mmap_threshold)) != 1 ||
        mallopt(M_TRIM_THRESHOLD, static_cast<int>(t.trim_threshold)) != 1) {
      t.applied = false;
      t.reason = "glibc refused the malloc thresholds: left at its defaults";
    }
  }
#else
  if (t.applied) {
    t.applied = false;
    t.mmap_threshold = t.trim_threshold = 0;
    t.reason = "not glibc: the system allocator is left as it is";
  }
#endif
  allocator_state() = t;
  return t;
}

HostAllocatorTuning host_allocator_state() { return allocator_state(); }

}  // namespace gtgm::core
