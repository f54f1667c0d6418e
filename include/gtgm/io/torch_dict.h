#pragma once
/// A dict of named tensors in the format of Python's `torch.save(dict)` / `torch.load` (a zip
/// archive holding a pickle), as `gtgm export` writes encoder.pt and model.pt.
#include <filesystem>

#include "gtgm/io/safetensors.h"

namespace gtgm::io {

/// Writes `tensors` (copied to contiguous CPU) as a dict torch.load reads; atomic.
void save_torch_dict(const std::filesystem::path& path, const NamedTensors& tensors);

/// Reads a file written by save_torch_dict or by Python's torch.save of a dict (state dict) of
/// tensors, in stored order. Throws naming the file when it is not such a dict, and naming the
/// key when a value is not a tensor.
NamedTensors load_torch_dict(const std::filesystem::path& path);

}  // namespace gtgm::io
