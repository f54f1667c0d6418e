#include "gtgm/core/device.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <string_view>
#include <thread>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/torch_compat.h"

namespace gtgm::core {

int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }

torch::Device select_device(const std::string& spec, int local_rank) {
  const int n = cuda_device_count();
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "auto") {
    if (n == 0) return torch::Device(torch::kCPU);
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % n));
  }
  static const std::regex kCuda(R"(cuda(?::(\d+))?)");
  std::smatch m;
  if (std::regex_match(spec, m, kCuda)) {
    if (n == 0) {
      throw ConfigError(fmt::format(
          "device '{}' requested but no CUDA device is visible (LibTorch {} {}); use 'cpu' or 'auto'", spec,
          compat::torch_version(), torch::cuda::is_available() ? "with CUDA" : "built without CUDA"));
    }
    const int index = m[1].matched ? std::stoi(m[1].str()) : local_rank % n;
    if (index >= n) {
      throw ConfigError(fmt::format("device '{}' requested but only {} CUDA device(s) are visible", spec, n));
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw ConfigError(fmt::format("unknown device '{}'; expected auto, cpu, cuda or cuda:N", spec));
}

std::string precision_name(Precision p) {
  switch (p) {
    case Precision::FP32: return "fp32";
    case Precision::BF16: return "bf16";
    case Precision::FP16: return "fp16";
  }
  return "?";
}

bool cpu_has_bf16() {
  static const bool has = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("flags", 0) == 0) {
        return line.find(" avx512_bf16") != std::string::npos || line.find(" amx_bf16") != std::string::npos;
      }
    }
    return false;
  }();
  return has;
}

Precision resolve_precision(PrecisionRequest requested, const torch::Device& device) {
  const bool cuda = device.is_cuda();
  switch (requested) {
    case PrecisionRequest::FP32:
      return Precision::FP32;
    case PrecisionRequest::Auto:
      if (cuda) return Precision::BF16;
      return cpu_has_bf16() ? Precision::BF16 : Precision::FP32;
    case PrecisionRequest::BF16:
      if (cuda || cpu_has_bf16()) return Precision::BF16;
      GTGM_WARN("precision bf16 requested but this CPU has no avx512_bf16/amx_bf16; running in fp32");
      return Precision::FP32;
    case PrecisionRequest::FP16:
      if (!cuda) {
        throw ConfigError("precision fp16 needs a CUDA device (fp16 autocast has no CPU kernels); use bf16 or fp32");
      }
      return Precision::FP16;
  }
  throw ConfigError(
      fmt::format("unknown precision {}; expected one of: auto, fp32, bf16, fp16", static_cast<int>(requested)));
}

AutocastGuard::AutocastGuard(const torch::Device& device, Precision p) {
  if (p == Precision::FP32) return;
  type_ = device.type();
  GTGM_CHECK(type_ == c10::DeviceType::CPU || type_ == c10::DeviceType::CUDA,
             "autocast supports cpu and cuda devices, got {}", device.str());
  GTGM_CHECK(!(type_ == c10::DeviceType::CPU && p == Precision::BF16 && !cpu_has_bf16()),
             "bf16 autocast on a CPU without avx512_bf16/amx_bf16 would abort; resolve_precision first");
  prev_enabled_ = compat::autocast_enabled(type_);
  compat::set_autocast(type_, true, p == Precision::BF16 ? at::kBFloat16 : at::kHalf);
  compat::autocast_increment_nesting();
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (compat::autocast_decrement_nesting() == 0) compat::autocast_clear_cache();
  compat::set_autocast(type_, prev_enabled_, type_ == c10::DeviceType::CPU ? at::kBFloat16 : at::kHalf);
}

int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

namespace {

// The whole value as a positive int, or nothing ("4,2", "x", "0", "" are not counts).
std::optional<int> positive_env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  const std::string_view s(v);
  int n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n <= 0) return std::nullopt;
  return n;
}

}  // namespace

int default_num_threads() {
  // The user's (or the job script's) OMP_NUM_THREADS wins; a nested list such as "4,2" does not count.
  if (const auto n = positive_env_int("OMP_NUM_THREADS")) return *n;
  // A malformed LOCAL_WORLD_SIZE is named by dist/launch_env.cpp when a distributed run starts.
  const int ranks = positive_env_int("LOCAL_WORLD_SIZE").value_or(1);
  return std::max(1, available_cores() / ranks);
}

int set_num_threads(int threads) {
  const int n = threads > 0 ? threads : default_num_threads();
  if (torch::get_num_threads() != n) torch::set_num_threads(n);
  return n;
}

}  // namespace gtgm::core
