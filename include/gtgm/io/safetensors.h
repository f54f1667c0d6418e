#pragma once
/// safetensors: the weight format of gtgm checkpoints and of Hugging Face `model.safetensors`.
///
/// Layout (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
/// N bytes of JSON `{"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {"key": "value"}}` (padded with spaces to a multiple of 8), then the raw
/// little-endian tensor bytes; offsets are relative to the start of the data block.
/// Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gtgm::io {

/// Tensors by name, in file / insertion order.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// One tensor's header entry (what `read_safetensors_header` returns without reading data).
struct SafetensorsEntry {
  std::string name;
  std::string dtype;           ///< "F32", "BF16", ...
  std::vector<int64_t> shape;  ///< [] for a scalar
  uint64_t begin = 0;          ///< byte offset into the data block
  uint64_t end = 0;            ///< one past the last byte
};

/// Writes `tensors` (any device, any layout; copied to contiguous CPU) and string `metadata` to
/// `path` atomically (temp file + fsync + rename). Throws on duplicate or empty names, on the
/// reserved name "__metadata__" and on unsupported dtypes, naming the tensor.
void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Reads the header only. Validates it (JSON, dtypes, shapes, offsets inside the data block and
/// matching shape x itemsize) and throws gtgm::Error naming the file and tensor otherwise.
std::vector<SafetensorsEntry> read_safetensors_header(const std::filesystem::path& path,
                                                      std::map<std::string, std::string>* metadata = nullptr);

/// Reads every tensor (CPU, dtype as stored) in file order; fills `metadata` when given.
NamedTensors load_safetensors(const std::filesystem::path& path,
                              std::map<std::string, std::string>* metadata = nullptr);

/// Torch dtype <-> safetensors dtype name ("F32", ...). Throw for unsupported ones.
std::string safetensors_dtype_name(torch::ScalarType dtype);
torch::ScalarType safetensors_dtype_from_name(const std::string& name);

/// What loading a state into a module found.
struct LoadReport {
  std::vector<std::string> missing;     ///< module keys with no tensor in the source
  std::vector<std::string> unexpected;  ///< source keys the module does not have
  std::vector<std::string> loaded;      ///< keys copied into the module
  bool complete() const { return missing.empty() && unexpected.empty(); }
  /// "N loaded, missing [a, b], unexpected [c]" (lists truncated after 10 names).
  std::string summary() const;
};

/// Named parameters and buffers of `module` (keys are module paths such as "encoder.conv1.weight").
NamedTensors module_state(const torch::nn::Module& module);

/// Saves `module_state(module)` to `path` (atomic).
void save_module(const torch::nn::Module& module, const std::filesystem::path& path,
                 const std::map<std::string, std::string>& metadata = {});

/// Copies tensors whose names match the module's parameter/buffer paths into it (values converted
/// to the module's dtype/device; no autograd). A shape mismatch always throws, naming the key and
/// both shapes. With `strict`, missing or unexpected keys throw too (listing them and `source`).
LoadReport load_state_into(torch::nn::Module& module, const NamedTensors& state, bool strict,
                           const std::string& source = "state");

/// load_safetensors(path) then load_state_into(module, ..., strict, path).
LoadReport load_module_into(torch::nn::Module& module, const std::filesystem::path& path, bool strict = true);

}  // namespace gtgm::io
