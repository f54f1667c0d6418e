#pragma once
/// The configured mixed precision (run.precision), before resolve_precision (core/device.h)
/// decides it against a device. Kept free of LibTorch so that config/ can name it.

namespace gtgm::core {

/// auto | fp32 | bf16 | fp16, as written in run.precision.
enum class PrecisionRequest { Auto, FP32, BF16, FP16 };

}  // namespace gtgm::core
