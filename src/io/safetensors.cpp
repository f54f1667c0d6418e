#include "gtgm/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

// The format stores little-endian bytes; we copy tensor memory as is.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace gtgm::io {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;  // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
};
const DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

std::string known_dtype_names() {
  std::string out;
  for (const auto& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

std::string join_names(const std::vector<std::string>& names, size_t limit = 10) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += fmt::format(", ... ({} more)", names.size() - limit);
  return "[" + out + "]";
}

/// Parses and validates the header; `data_size` is the byte count after the header.
std::vector<SafetensorsEntry> parse_header(const fs::path& path, const std::string& text, uint64_t data_size,
                                           std::map<std::string, std::string>* metadata) {
  ordered_json header;
  try {
    header = ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    GTGM_THROW("{}: bad safetensors header: not valid JSON ({})", path.string(), e.what());
  }
  GTGM_CHECK(header.is_object(), "{}: bad safetensors header: expected a JSON object, got {}", path.string(),
             header.type_name());
  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      GTGM_CHECK(value.is_object(), "{}: bad safetensors header: __metadata__ must be an object of strings",
                 path.string());
      for (const auto& [k, v] : value.items()) {
        GTGM_CHECK(v.is_string(), "{}: bad safetensors header: __metadata__[\"{}\"] is a {}, expected a string",
                   path.string(), k, v.type_name());
        if (metadata) (*metadata)[k] = v.get<std::string>();
      }
      continue;
    }
    const auto where = fmt::format("{}: tensor '{}'", path.string(), name);
    GTGM_CHECK(value.is_object(), "{}: bad header entry (expected an object with dtype, shape, data_offsets)", where);
    GTGM_CHECK(value.contains("dtype") && value["dtype"].is_string(), "{}: bad header entry: missing string 'dtype'",
               where);
    GTGM_CHECK(value.contains("shape") && value["shape"].is_array(), "{}: bad header entry: missing array 'shape'",
               where);
    GTGM_CHECK(value.contains("data_offsets") && value["data_offsets"].is_array() && value["data_offsets"].size() == 2,
               "{}: bad header entry: 'data_offsets' must be [begin, end]", where);
    SafetensorsEntry e;
    e.name = name;
    e.dtype = value["dtype"].get<std::string>();
    torch::ScalarType type;
    try {
      type = safetensors_dtype_from_name(e.dtype);
    } catch (const Error&) {
      GTGM_THROW("{}: unknown dtype '{}' (supported: {})", where, e.dtype, known_dtype_names());
    }
    uint64_t numel = 1;
    for (const auto& d : value["shape"]) {
      GTGM_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, "{}: bad shape {} (non-negative integers expected)",
                 where, value["shape"].dump());
      e.shape.push_back(d.get<int64_t>());
    }
    // A hand-made shape whose element count or byte size wraps around 64 bits would match a small
    // data block and then fail deep inside an allocation naming nothing.
    bool overflow = false;
    for (const int64_t d : e.shape)
      overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel);
    uint64_t bytes = 0;
    overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(torch::elementSize(type)), &bytes) ||
               bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    GTGM_CHECK(!overflow,
               "{}: shape {} of {} holds more elements than 64-bit sizes can count (corrupt header); "
               "expected a shape whose byte size fits the file",
               where, value["shape"].dump(), e.dtype);
    for (const auto& o : value["data_offsets"]) {
      GTGM_CHECK(o.is_number_unsigned() || (o.is_number_integer() && o.get<int64_t>() >= 0),
                 "{}: bad data_offsets {} (non-negative integers expected)", where, value["data_offsets"].dump());
    }
    e.begin = value["data_offsets"][0].get<uint64_t>();
    e.end = value["data_offsets"][1].get<uint64_t>();
    GTGM_CHECK(e.begin <= e.end, "{}: data_offsets [{}, {}] are reversed", where, e.begin, e.end);
    GTGM_CHECK(e.end <= data_size,
               "{}: data_offsets [{}, {}] out of range: the data block holds {} bytes (file truncated?)", where,
               e.begin, e.end, data_size);
    const uint64_t expected = numel * torch::elementSize(type);
    GTGM_CHECK(e.end - e.begin == expected, "{}: data_offsets [{}, {}] span {} bytes but {} {} needs {}", where,
               e.begin, e.end, e.end - e.begin, e.dtype, core::shape_str(e.shape), expected);
    entries.push_back(std::move(e));
  }
  // Overlapping tensors mean a corrupt or hand-edited file.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    GTGM_CHECK(by_offset[i]->begin >= by_offset[i - 1]->end || by_offset[i]->begin == by_offset[i]->end,
               "{}: tensors '{}' and '{}' overlap in the data block", path.string(), by_offset[i - 1]->name,
               by_offset[i]->name);
  }
  return entries;
}

struct OpenFile {
  std::ifstream in;
  uint64_t header_size = 0;
  std::vector<SafetensorsEntry> entries;
};

OpenFile open_file(const fs::path& path, std::map<std::string, std::string>* metadata) {
  std::error_code ec;
  GTGM_CHECK(fs::is_regular_file(path, ec), "safetensors file {} does not exist or is not a file", path.string());
  const uint64_t file_size = fs::file_size(path);
  OpenFile f;
  f.in.open(path, std::ios::binary);
  GTGM_CHECK(f.in.good(), "cannot open {}: {}", path.string(), std::strerror(errno));
  GTGM_CHECK(file_size >= 8, "{}: truncated safetensors file ({} bytes; the 8-byte header length is missing)",
             path.string(), file_size);
  unsigned char len_bytes[8];
  f.in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  GTGM_CHECK(n <= kMaxHeaderBytes, "{}: bad safetensors header: header length {} exceeds {} bytes (not a safetensors file?)",
             path.string(), n, kMaxHeaderBytes);
  GTGM_CHECK(8 + n <= file_size, "{}: truncated safetensors file: header needs {} bytes, file has {}", path.string(),
             8 + n, file_size);
  std::string text(n, '\0');
  f.in.read(text.data(), static_cast<std::streamsize>(n));
  GTGM_CHECK(f.in.good(), "{}: reading the header failed", path.string());
  f.header_size = n;
  f.entries = parse_header(path, text, file_size - 8 - n, metadata);
  return f;
}

}  // namespace

std::string safetensors_dtype_name(torch::ScalarType dtype) {
  for (const auto& d : kDtypes)
    if (d.type == dtype) return d.name;
  GTGM_THROW("dtype {} cannot be stored in safetensors (supported: {})", c10::toString(dtype), known_dtype_names());
}

torch::ScalarType safetensors_dtype_from_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.type;
  GTGM_THROW("unknown safetensors dtype '{}' (supported: {})", name, known_dtype_names());
}

void save_safetensors(const fs::path& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::set<std::string> seen;
  std::vector<torch::Tensor> data;
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) {
    ordered_json meta = ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header[kMetadataKey] = meta;
  }
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    GTGM_CHECK(!name.empty(), "save_safetensors({}): empty tensor name", path.string());
    GTGM_CHECK(name != kMetadataKey, "save_safetensors({}): '{}' is reserved", path.string(), name);
    GTGM_CHECK(seen.insert(name).second, "save_safetensors({}): duplicate tensor name '{}'", path.string(), name);
    GTGM_CHECK(tensor.defined(), "save_safetensors({}): tensor '{}' is undefined", path.string(), name);
    std::string dtype;
    try {
      dtype = safetensors_dtype_name(tensor.scalar_type());
    } catch (const Error& e) {
      GTGM_THROW("save_safetensors({}): tensor '{}': {}", path.string(), name, e.message());
    }
    auto cpu = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(cpu.numel()) * cpu.element_size();
    header[name] = {{"dtype", dtype}, {"shape", cpu.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(cpu));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  core::atomic_write(path, [&](std::ostream& out) {
    unsigned char len_bytes[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : data) {
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    }
  });
}

std::vector<SafetensorsEntry> read_safetensors_header(const fs::path& path,
                                                      std::map<std::string, std::string>* metadata) {
  return open_file(path, metadata).entries;
}

NamedTensors load_safetensors(const fs::path& path, std::map<std::string, std::string>* metadata) {
  OpenFile f = open_file(path, metadata);
  NamedTensors out;
  out.reserve(f.entries.size());
  for (const auto& e : f.entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(safetensors_dtype_from_name(e.dtype)));
    const uint64_t bytes = e.end - e.begin;
    if (bytes > 0) {
      f.in.seekg(static_cast<std::streamoff>(8 + f.header_size + e.begin));
      f.in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(bytes));
      GTGM_CHECK(f.in.good(), "{}: tensor '{}': reading {} bytes failed (file truncated?)", path.string(), e.name,
                 bytes);
    }
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

std::string LoadReport::summary() const {
  return fmt::format("{} loaded, missing {} {}, unexpected {} {}", loaded.size(), missing.size(),
                     join_names(missing), unexpected.size(), join_names(unexpected));
}

NamedTensors module_state(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out.emplace_back(b.key(), b.value());
  return out;
}

void save_module(const torch::nn::Module& module, const fs::path& path,
                 const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, module_state(module), metadata);
}

LoadReport load_state_into(torch::nn::Module& module, const NamedTensors& state, bool strict,
                           const std::string& source) {
  std::unordered_map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, t] : state) by_name[name] = &t;
  LoadReport report;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  // First pass: validate everything so a failed load leaves the module untouched.
  std::vector<std::pair<torch::Tensor, const torch::Tensor*>> copies;
  for (auto& [name, target] : module_state(module)) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      report.missing.push_back(name);
      continue;
    }
    const auto& src = *it->second;
    GTGM_CHECK(src.sizes() == target.sizes(), "{}: tensor '{}' has shape {} but the module expects {}", source, name,
               core::shape_str(src.sizes()), core::shape_str(target.sizes()));
    used.insert(name);
    copies.emplace_back(target, &src);
    report.loaded.push_back(name);
  }
  for (const auto& [name, t] : state)
    if (!used.count(name)) report.unexpected.push_back(name);
  if (strict) {
    GTGM_CHECK(report.complete(), "{}: state does not match the module: {}", source, report.summary());
  }
  for (auto& [target, src] : copies) target.copy_(*src);
  return report;
}

LoadReport load_module_into(torch::nn::Module& module, const fs::path& path, bool strict) {
  return load_state_into(module, load_safetensors(path), strict, path.string());
}

}  // namespace gtgm::io
