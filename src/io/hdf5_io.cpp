#include "gtgm/io/hdf5_io.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <mutex>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"
#include "gtgm/io/checks.h"

namespace gtgm::io {

namespace fs = std::filesystem;

std::optional<std::pair<fs::path, std::string>> split_hdf5_path(const std::string& path) {
  const std::string l = core::lower(path);
  for (const std::string ext : {".hdf5", ".hdf", ".h5"}) {
    const auto pos = l.rfind(ext);
    if (pos == std::string::npos) continue;
    const size_t end = pos + ext.size();
    if (end == l.size()) return std::make_pair(fs::path(path), std::string());
    if (l[end] == ':') return std::make_pair(fs::path(path.substr(0, end)), path.substr(end + 1));
  }
  return std::nullopt;
}

}  // namespace gtgm::io

#ifdef GTGM_WITH_HDF5
#include <hdf5.h>

namespace gtgm::io {

namespace fs = std::filesystem;

namespace {

std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex m;
  return m;
}

// Owns an HDF5 id; closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), close_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  ~Handle() {
    if (id_ >= 0 && close_) close_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// The innermost message of the current HDF5 error stack (HDF5's automatic printing is off).
std::string h5_error() {
  std::string msg;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        auto* out = static_cast<std::string*>(data);
        if (n == 0 && e->desc) *out = e->desc;
        return 0;
      },
      &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg.empty() ? "unknown HDF5 error" : msg;
}

struct Lock {
  std::lock_guard<std::recursive_mutex> guard{hdf5_mutex()};
  Lock() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};

Handle open_file(const fs::path& file, bool write) {
  const std::string f = file.string();
  if (!write) {
    GTGM_CHECK(fs::exists(file), "{}: no such file (expected an HDF5 file)", f);
    GTGM_CHECK(::access(f.c_str(), R_OK) == 0, "{}: file is not readable (permission denied)", f);
    GTGM_CHECK(H5Fis_hdf5(f.c_str()) > 0,
               "{}: not an HDF5 file (no HDF5 signature; the file is corrupt or of "
               "another format)",
               f);
    hid_t id = H5Fopen(f.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    GTGM_CHECK(id >= 0, "{}: cannot open HDF5 file: {} (unreadable, truncated or corrupt)", f, h5_error());
    return {id, H5Fclose};
  }
  hid_t id = fs::exists(file) ? H5Fopen(f.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                              : H5Fcreate(f.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  GTGM_CHECK(id >= 0, "{}: cannot open HDF5 file for writing: {}", f, h5_error());
  return {id, H5Fclose};
}

struct TypeMap {
  const char* name;
  hid_t (*memory)();  // native memory type the raw bytes are read/written as
  hid_t (*file)();    // little-endian file type
  torch::ScalarType read_as;
  torch::ScalarType tensor;
};

// Functions, because H5T_NATIVE_* are macros that need the library initialised.
const std::vector<TypeMap>& type_table() {
  static const std::vector<TypeMap> t = {
      {"uint8", [] { return H5T_NATIVE_UINT8; }, [] { return H5T_STD_U8LE; }, torch::kByte, torch::kByte},
      {"int8", [] { return H5T_NATIVE_INT8; }, [] { return H5T_STD_I8LE; }, torch::kChar, torch::kChar},
      {"uint16", [] { return H5T_NATIVE_INT32; }, [] { return H5T_STD_U16LE; }, torch::kInt, torch::kInt},
      {"int16", [] { return H5T_NATIVE_INT16; }, [] { return H5T_STD_I16LE; }, torch::kShort, torch::kShort},
      {"uint32", [] { return H5T_NATIVE_INT64; }, [] { return H5T_STD_U32LE; }, torch::kLong, torch::kLong},
      {"int32", [] { return H5T_NATIVE_INT32; }, [] { return H5T_STD_I32LE; }, torch::kInt, torch::kInt},
      {"uint64", [] { return H5T_NATIVE_UINT64; }, [] { return H5T_STD_U64LE; }, torch::kLong, torch::kLong},
      {"int64", [] { return H5T_NATIVE_INT64; }, [] { return H5T_STD_I64LE; }, torch::kLong, torch::kLong},
      {"float32", [] { return H5T_NATIVE_FLOAT; }, [] { return H5T_IEEE_F32LE; }, torch::kFloat, torch::kFloat},
      {"float64", [] { return H5T_NATIVE_DOUBLE; }, [] { return H5T_IEEE_F64LE; }, torch::kDouble, torch::kDouble},
  };
  return t;
}

const TypeMap& type_by_name(const std::string& name, const std::string& what) {
  for (const auto& t : type_table())
    if (name == t.name) return t;
  GTGM_THROW(
      "{}: unsupported HDF5 voxel type '{}' (expected uint8, int8, uint16, int16, uint32, int32, uint64, "
      "int64, float32 or float64)",
      what, name);
}

std::string stored_name(hid_t type, const std::string& what) {
  const auto cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_INTEGER) {
    const bool sign = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 1 || size == 2 || size == 4 || size == 8) return fmt::format("{}int{}", sign ? "" : "u", size * 8);
  } else if (cls == H5T_FLOAT) {
    if (size == 4) return "float32";
    if (size == 8) return "float64";
  }
  GTGM_THROW("{}: unsupported HDF5 element type (class {}, {} bytes; expected an integer or float scalar type)", what,
             static_cast<int>(cls), size);
}

std::string present_datasets(const fs::path& file) {
  try {
    const auto names = list_hdf5_datasets(file);
    return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
  } catch (const Error&) {
    return "unknown";
  }
}

Handle open_dataset(hid_t f, const fs::path& file, const std::string& dataset) {
  const std::string where = fmt::format("{}:{}", file.string(), dataset);
  // H5Lexists fails on a missing intermediate group: check each prefix, then the dataset.
  for (size_t pos = dataset.find('/', 1);; pos = dataset.find('/', pos + 1)) {
    const std::string prefix = pos == std::string::npos ? dataset : dataset.substr(0, pos);
    const bool exists = !dataset.empty() && H5Lexists(f, prefix.c_str(), H5P_DEFAULT) > 0;
    H5Eclear2(H5E_DEFAULT);
    GTGM_CHECK(exists, "{}: dataset '{}' not found (datasets present: {})", file.string(), dataset,
               present_datasets(file));
    if (pos == std::string::npos) break;
  }
  hid_t id = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  GTGM_CHECK(id >= 0, "{}: cannot open dataset: {}", where, h5_error());
  return {id, H5Dclose};
}

Hdf5DatasetInfo info_of(hid_t ds, const std::string& where) {
  Handle space(H5Dget_space(ds), H5Sclose);
  Handle type(H5Dget_type(ds), H5Tclose);
  GTGM_CHECK(space.valid() && type.valid(), "{}: cannot read dataset header: {}", where, h5_error());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  GTGM_CHECK(rank >= 0 && rank <= 8, "{}: dataset has invalid rank {}", where, rank);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Hdf5DatasetInfo info;
  for (auto d : dims) info.shape.push_back(static_cast<int64_t>(d));
  info.stored_dtype = stored_name(type.get(), where);
  return info;
}

void ensure_groups(hid_t f, const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string g = path.substr(0, pos);
    if (H5Lexists(f, g.c_str(), H5P_DEFAULT) > 0) continue;
    Handle grp(H5Gcreate2(f, g.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    GTGM_CHECK(grp.valid(), "cannot create HDF5 group '{}': {}", g, h5_error());
  }
}

bool is_identity(const std::array<double, 9>& d) {
  const Geometry id;
  for (size_t i = 0; i < 9; ++i)
    if (std::abs(d[i] - id.direction[i]) > 1e-9) return false;
  return true;
}

}  // namespace

std::vector<std::string> list_hdf5_datasets(const fs::path& file) {
  Lock lock;
  auto f = open_file(file, false);
  std::vector<std::string> names;
  // Walks groups with calls whose signatures are the same in HDF5 1.10, 1.12 and 1.14 (H5Ovisit's
  // callback type changed between them).
  std::function<void(hid_t, const std::string&)> walk = [&](hid_t group, const std::string& prefix) {
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0) return;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (len <= 0) continue;
      std::string name(static_cast<size_t>(len) + 1, '\0');
      H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
      name.resize(static_cast<size_t>(len));
      Handle obj(H5Oopen(group, name.c_str(), H5P_DEFAULT), H5Oclose);
      if (!obj.valid()) continue;  // e.g. a dangling external link
      const auto type = H5Iget_type(obj.get());
      if (type == H5I_DATASET) names.push_back(prefix + name);
      if (type == H5I_GROUP) walk(obj.get(), prefix + name + "/");
    }
  };
  walk(f.get(), "");
  H5Eclear2(H5E_DEFAULT);
  std::sort(names.begin(), names.end());
  return names;
}

Hdf5DatasetInfo hdf5_dataset_info(const fs::path& file, const std::string& dataset) {
  Lock lock;
  auto f = open_file(file, false);
  auto ds = open_dataset(f.get(), file, dataset);
  return info_of(ds.get(), fmt::format("{}:{}", file.string(), dataset));
}

torch::Tensor read_hdf5_dataset(const fs::path& file, const std::string& dataset, int64_t max_bytes) {
  Lock lock;
  const std::string where = fmt::format("{}:{}", file.string(), dataset);
  auto f = open_file(file, false);
  auto ds = open_dataset(f.get(), file, dataset);
  const auto info = info_of(ds.get(), where);
  const auto& tm = type_by_name(info.stored_dtype, where);
  check_allocation(where, fmt::format("{} of {}", info.shape, info.stored_dtype), info.shape,
                   static_cast<int64_t>(c10::elementSize(tm.tensor)), max_bytes);
  auto t = torch::empty(info.shape, torch::TensorOptions().dtype(tm.read_as));
  GTGM_CHECK(H5Dread(ds.get(), tm.memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()) >= 0,
             "{}: cannot read dataset values: {} (the file is truncated or corrupt)", where, h5_error());
  if (info.stored_dtype == "uint64" && t.numel() > 0) {
    GTGM_CHECK(!(t < 0).any().item<bool>(),
               "{}: uint64 values >= 2^63 cannot be held as int64 (expected values "
               "below 9223372036854775808)",
               where);
  }
  return t;
}

void write_hdf5_dataset(const fs::path& file, const std::string& dataset, const torch::Tensor& tensor,
                        const Hdf5WriteOptions& options) {
  Lock lock;
  const std::string where = fmt::format("{}:{}", file.string(), dataset);
  GTGM_CHECK(tensor.defined() && tensor.dim() >= 1, "{}: cannot write an undefined or 0-d tensor", where);
  auto t = tensor.detach().to(torch::kCPU);
  if (t.scalar_type() == torch::kBool) t = t.to(torch::kByte);
  const std::string dtype = options.dtype.empty() ? dtype_name(t.scalar_type()) : options.dtype;
  const auto& tm = type_by_name(dtype, where);
  if (dtype.rfind("uint", 0) == 0 && t.numel() > 0) {
    GTGM_CHECK(t.min().item<double>() >= 0, "{}: negative values cannot be stored as {}", where, dtype);
  }
  t = t.to(tm.read_as).contiguous();
  if (dtype == "float32" || dtype == "float64") check_finite(Volume{t.reshape({1, 1, 1, -1}), {}, where, ""});
  fs::create_directories(file.parent_path().empty() ? fs::path(".") : file.parent_path());
  auto f = open_file(file, true);
  if (H5Lexists(f.get(), dataset.c_str(), H5P_DEFAULT) > 0) H5Ldelete(f.get(), dataset.c_str(), H5P_DEFAULT);
  ensure_groups(f.get(), dataset.front() == '/' ? dataset : "/" + dataset);
  std::vector<hsize_t> dims;
  for (auto s : t.sizes()) dims.push_back(static_cast<hsize_t>(s));
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (options.gzip_level > 0 && t.numel() > 0) {
    std::vector<hsize_t> chunks;
    for (size_t a = 0; a < dims.size(); ++a) {
      const auto c =
          a < options.chunks.size() ? static_cast<hsize_t>(options.chunks[a]) : std::min<hsize_t>(dims[a], 64);
      chunks.push_back(std::max<hsize_t>(1, std::min(c, dims[a])));
    }
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunks.size()), chunks.data());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.gzip_level));
  }
  Handle ds(H5Dcreate2(f.get(), dataset.c_str(), tm.file(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
            H5Dclose);
  GTGM_CHECK(ds.valid(), "{}: cannot create dataset: {}", where, h5_error());
  GTGM_CHECK(H5Dwrite(ds.get(), tm.memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()) >= 0,
             "{}: cannot write dataset: {}", where, h5_error());
}

std::optional<std::vector<double>> read_hdf5_attribute(const fs::path& file, const std::string& object,
                                                       const std::string& name) {
  Lock lock;
  const std::string where = fmt::format("{}:{}@{}", file.string(), object, name);
  auto f = open_file(file, false);
  if (H5Aexists_by_name(f.get(), object.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  Handle attr(H5Aopen_by_name(f.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  GTGM_CHECK(attr.valid(), "{}: cannot open attribute: {}", where, h5_error());
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  const auto n = H5Sget_simple_extent_npoints(space.get());
  GTGM_CHECK(n >= 0 && n < 1024, "{}: attribute has {} values (expected a short numeric array)", where, n);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  const auto cls = H5Tget_class(type.get());
  GTGM_CHECK(cls == H5T_INTEGER || cls == H5T_FLOAT, "{}: attribute is not numeric (expected numbers)", where);
  std::vector<double> values(static_cast<size_t>(n));
  GTGM_CHECK(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, values.data()) >= 0, "{}: cannot read attribute: {}", where,
             h5_error());
  return values;
}

void write_hdf5_attribute(const fs::path& file, const std::string& object, const std::string& name,
                          const std::vector<double>& values) {
  Lock lock;
  const std::string where = fmt::format("{}:{}@{}", file.string(), object, name);
  auto f = open_file(file, true);
  if (H5Aexists_by_name(f.get(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(f.get(), object.c_str(), name.c_str(), H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle attr(H5Acreate_by_name(f.get(), object.c_str(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  GTGM_CHECK(attr.valid(), "{}: cannot create attribute: {}", where, h5_error());
  GTGM_CHECK(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, values.data()) >= 0, "{}: cannot write attribute: {}", where,
             h5_error());
}

std::string default_hdf5_dataset(const fs::path& file) {
  const auto names = list_hdf5_datasets(file);
  if (std::find(names.begin(), names.end(), "volumes/raw") != names.end()) return "volumes/raw";
  GTGM_CHECK(names.size() == 1, "{}: {} (name one as FILE:DATASET; datasets present: {})", file.string(),
             names.empty() ? "file holds no dataset" : "file holds several datasets and no volumes/raw",
             names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")));
  return names.front();
}

VolumeHeader read_hdf5_volume_header(const fs::path& file, const std::string& dataset_in, const ReadOptions& options) {
  const std::string dataset = dataset_in.empty() ? default_hdf5_dataset(file) : dataset_in;
  const std::string where = fmt::format("{}:{}", file.string(), dataset);
  const auto info = hdf5_dataset_info(file, dataset);
  const auto rank = info.shape.size();
  GTGM_CHECK(rank >= 2 && rank <= 4,
             "{}: expected a 2D [y, x], 3D [z, y, x] or 4D [c, z, y, x] dataset, found "
             "shape {}",
             where, info.shape);
  VolumeHeader h;
  h.path = where;
  h.format = "HDF5";
  h.stored_dtype = info.stored_dtype;
  h.dtype = type_by_name(info.stored_dtype, where).tensor;
  h.file_dims = static_cast<int>(rank);
  std::vector<int64_t> s = info.shape;
  while (s.size() < 4) s.insert(s.begin(), 1);
  h.channels = s[0];
  h.shape = {s[1], s[2], s[3]};
  // CREMI attributes are (z, y, x); Geometry is (x, y, z).
  for (const auto& [attr, target] :
       {std::make_pair("resolution", &h.geometry.spacing), std::make_pair("offset", &h.geometry.origin)}) {
    if (auto v = read_hdf5_attribute(file, dataset, attr)) {
      GTGM_CHECK(v->size() == 3 || (v->size() == 2 && rank == 2),
                 "{}: attribute '{}' has {} values, expected 3 "
                 "((z, y, x) in nm)",
                 where, attr, v->size());
      std::vector<double> zyx = *v;
      if (zyx.size() == 2) zyx.insert(zyx.begin(), attr == std::string("resolution") ? 1.0 : 0.0);
      *target = {zyx[2], zyx[1], zyx[0]};
    }
  }
  check_header(h, options);
  return h;
}

Volume read_hdf5_volume(const fs::path& file, const std::string& dataset_in, const ReadOptions& options) {
  const std::string dataset = dataset_in.empty() ? default_hdf5_dataset(file) : dataset_in;
  const auto h = read_hdf5_volume_header(file, dataset, options);
  Volume v;
  v.data =
      read_hdf5_dataset(file, dataset, options.max_bytes).reshape({h.channels, h.shape[0], h.shape[1], h.shape[2]});
  v.geometry = h.geometry;
  v.source = h.path;
  v.stored_dtype = h.stored_dtype;
  apply_non_finite_policy(v, options.non_finite);
  return v;
}

void write_hdf5_volume(const fs::path& file, const std::string& dataset, const Volume& volume,
                       const Hdf5WriteOptions& options) {
  const std::string where = fmt::format("{}:{}", file.string(), dataset);
  GTGM_CHECK(volume.data.defined() && volume.data.dim() == 4, "{}: expected data [C, D, H, W], found {}", where,
             volume.data.defined() ? fmt::format("{}", volume.data.sizes()) : std::string("an undefined tensor"));
  GTGM_CHECK(is_identity(volume.geometry.direction),
             "{}: HDF5 volumes carry no direction, but the volume's "
             "direction is not identity; write NIfTI/NRRD/MetaImage to keep it, or resample first",
             where);
  auto data = volume.channels() == 1 ? volume.data.select(0, 0) : volume.data;
  write_hdf5_dataset(file, dataset, data, options);
  const auto& g = volume.geometry;
  write_hdf5_attribute(file, dataset, "resolution", {g.spacing[2], g.spacing[1], g.spacing[0]});
  write_hdf5_attribute(file, dataset, "offset", {g.origin[2], g.origin[1], g.origin[0]});
}

CremiVolume read_cremi(const fs::path& file, bool with_labels) {
  CremiVolume c;
  c.raw = read_hdf5_volume(file, "volumes/raw");
  if (with_labels) {
    bool present = false;
    {
      Lock lock;
      auto f = open_file(file, false);
      present = H5Lexists(f.get(), "volumes/labels", H5P_DEFAULT) > 0 &&
                H5Lexists(f.get(), "volumes/labels/neuron_ids", H5P_DEFAULT) > 0;
      H5Eclear2(H5E_DEFAULT);
    }
    if (present) {
      ReadOptions ro;
      ro.require_3d = true;
      c.neuron_ids = read_hdf5_volume(file, "volumes/labels/neuron_ids", ro);
    }
  }
  return c;
}

void write_cremi(const fs::path& file, const CremiVolume& c) {
  const std::string f = file.string();
  GTGM_CHECK(c.raw.channels() == 1, "write_cremi {}: raw must have one channel, found {}", f, c.raw.channels());
  if (c.neuron_ids) {
    GTGM_CHECK(c.neuron_ids->shape() == c.raw.shape() && c.neuron_ids->channels() == 1,
               "write_cremi {}: neuron_ids shape {} does not match raw shape {}", f, c.neuron_ids->data.sizes(),
               c.raw.data.sizes());
  }
  const fs::path parent = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  fs::create_directories(parent);
  const fs::path tmp = parent / fmt::format(".gtgm-tmp-{}-{}", ::getpid(), file.filename().string());
  std::error_code ec;
  fs::remove(tmp, ec);
  try {
    write_hdf5_volume(tmp, "volumes/raw", c.raw, {"uint8", 4, {}});
    if (c.neuron_ids) write_hdf5_volume(tmp, "volumes/labels/neuron_ids", *c.neuron_ids, {"uint64", 4, {}});
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, file);
}

}  // namespace gtgm::io

#else  // !GTGM_WITH_HDF5

namespace gtgm::io {

namespace fs = std::filesystem;

namespace {
[[noreturn]] void no_hdf5(const fs::path& file) {
  GTGM_THROW("{}: HDF5 support is not built in (GTGM_WITH_HDF5=OFF); install libhdf5-dev and rebuild", file.string());
}
}  // namespace

std::vector<std::string> list_hdf5_datasets(const fs::path& file) { no_hdf5(file); }
Hdf5DatasetInfo hdf5_dataset_info(const fs::path& file, const std::string&) { no_hdf5(file); }
torch::Tensor read_hdf5_dataset(const fs::path& file, const std::string&, int64_t) { no_hdf5(file); }
void write_hdf5_dataset(const fs::path& file, const std::string&, const torch::Tensor&, const Hdf5WriteOptions&) {
  no_hdf5(file);
}
std::optional<std::vector<double>> read_hdf5_attribute(const fs::path& file, const std::string&, const std::string&) {
  no_hdf5(file);
}
void write_hdf5_attribute(const fs::path& file, const std::string&, const std::string&, const std::vector<double>&) {
  no_hdf5(file);
}
std::string default_hdf5_dataset(const fs::path& file) { no_hdf5(file); }
VolumeHeader read_hdf5_volume_header(const fs::path& file, const std::string&, const ReadOptions&) { no_hdf5(file); }
Volume read_hdf5_volume(const fs::path& file, const std::string&, const ReadOptions&) { no_hdf5(file); }
void write_hdf5_volume(const fs::path& file, const std::string&, const Volume&, const Hdf5WriteOptions&) {
  no_hdf5(file);
}
CremiVolume read_cremi(const fs::path& file, bool) { no_hdf5(file); }
void write_cremi(const fs::path& file, const CremiVolume&) { no_hdf5(file); }

}  // namespace gtgm::io

#endif  // GTGM_WITH_HDF5
