#pragma once
#include <cstdint>
#include <string>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"
#include "gtgm/core/precision.h"

namespace gtgm::config {

template <>
struct EnumNames<core::PrecisionRequest> {
  static constexpr std::pair<core::PrecisionRequest, const char*> items[] = {{core::PrecisionRequest::Auto, "auto"},
                                                                             {core::PrecisionRequest::FP32, "fp32"},
                                                                             {core::PrecisionRequest::BF16, "bf16"},
                                                                             {core::PrecisionRequest::FP16, "fp16"}};
};

/// `run:` where outputs go, seeding, device, precision, logging.
struct RunConfig {
  std::string name = "gtgm";
  std::string dir = "runs/gtgm";
  int64_t seed = 42;
  std::string device = "auto";
  core::PrecisionRequest precision = core::PrecisionRequest::Auto;
  std::string log_level = "info";
  int threads = 0;
  bool deterministic = false;

  template <class V>
  void visit(V& v) {
    v.field("name", name, "Run name, used in logs and reports.");
    v.field("dir", dir, "Run directory: log.txt, config.resolved.yaml, metrics, checkpoints.");
    v.field("seed", seed, "One seed for every RNG (torch, samplers, augmentations, splits).", ge(0));
    v.field("device", device, "auto (cuda:LOCAL_RANK when available, else cpu), cpu, cuda or cuda:N.");
    v.field("precision", precision,
            "Mixed precision. auto = bf16 on CUDA and on CPUs with avx512_bf16/amx, else fp32; fp16 needs CUDA "
            "and uses a grad scaler.");
    v.field("log_level", log_level, "Console and log.txt level.", one_of({"trace", "debug", "info", "warn", "error", "off"}));
    v.field("threads", threads,
            "Intra-op CPU threads; 0 = OMP_NUM_THREADS when set, else the cores this process may use divided by "
            "the ranks on this node (LOCAL_WORLD_SIZE).",
            ge(0));
    v.field("deterministic", deterministic, "Ask LibTorch for deterministic algorithms (slower on CUDA).");
  }
};

}  // namespace gtgm::config
