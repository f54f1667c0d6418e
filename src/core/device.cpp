#include "gtgm/core/device.h"

#include <fstream>
#include <regex>

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

void set_num_threads(int threads) {
  if (threads > 0) torch::set_num_threads(threads);
}

}  // namespace gtgm::core
