#include "gtgm/io/torch_dict.h"

#include <fstream>
#include <iterator>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"

namespace gtgm::io {

void save_torch_dict(const std::filesystem::path& path, const NamedTensors& tensors) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : tensors) dict.insert(name, t.detach().cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(dict);
  core::atomic_write(path,
                     [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

NamedTensors load_torch_dict(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  GTGM_CHECK(in.good(), "{}: cannot open", path.string());
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    GTGM_THROW("{}: not a torch.save file of a dict of tensors ({})", path.string(), e.what());
  }
  GTGM_CHECK(value.isGenericDict(), "{}: holds a {}, expected a dict of tensors (a state dict)", path.string(),
             value.tagKind());
  NamedTensors out;
  for (const auto& entry : value.toGenericDict()) {
    GTGM_CHECK(entry.key().isString(), "{}: a key is a {}, expected tensor names", path.string(),
               entry.key().tagKind());
    const std::string name = entry.key().toStringRef();
    GTGM_CHECK(entry.value().isTensor(), "{}: '{}' is a {}, expected a tensor", path.string(), name,
               entry.value().tagKind());
    out.emplace_back(name, entry.value().toTensor());
  }
  return out;
}

}  // namespace gtgm::io
