#include "gtgm/io/volume_io.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/strings.h"
#include "gtgm/io/checks.h"
#include "gtgm/io/dicom_io.h"
#include "gtgm/io/hdf5_io.h"
#include "gtgm/io/nifti.h"
#include "payload_check.h"

#ifdef GTGM_WITH_ITK
#include <itkImageIOFactory.h>

#include "itk_common.h"
#endif

namespace gtgm::io {

namespace fs = std::filesystem;

namespace {

// What a volume file's extension says about writing it.
enum class VolumeFileKind {
  NIfTIGz,            // .nii.gz
  NIfTI,              // .nii: written uncompressed
  NRRD,               // .nrrd
  NRRDDetached,       // .nhdr: header + separate data file
  MetaImage,          // .mha
  MetaImageDetached,  // .mhd: header + separate data file
  TIFF,               // .tif, .tiff: one channel, no origin/direction
  DICOM,              // .dcm: written as a series folder instead
  HDF5,               // .h5, .hdf, .hdf5
};

struct VolumeExtension {
  const char* ext;
  VolumeFileKind kind;
};

// The one extension -> format table. Longest first so ".nii.gz" wins over ".nii"-like suffixes.
constexpr VolumeExtension kVolumeExtensions[] = {
    {".nii.gz", VolumeFileKind::NIfTIGz},    {".nrrd", VolumeFileKind::NRRD},
    {".nhdr", VolumeFileKind::NRRDDetached}, {".hdf5", VolumeFileKind::HDF5},
    {".tiff", VolumeFileKind::TIFF},         {".nii", VolumeFileKind::NIfTI},
    {".mha", VolumeFileKind::MetaImage},     {".mhd", VolumeFileKind::MetaImageDetached},
    {".tif", VolumeFileKind::TIFF},          {".dcm", VolumeFileKind::DICOM},
    {".hdf", VolumeFileKind::HDF5},          {".h5", VolumeFileKind::HDF5},
};

// The table entry of `path`'s extension (case-insensitive), or nullptr.
const VolumeExtension* extension_of(const fs::path& path) {
  const auto name = core::lower(path.filename().string());
  for (const auto& e : kVolumeExtensions)
    if (core::ends_with(name, e.ext)) return &e;
  return nullptr;
}

// A stored voxel type ("uint16", as VolumeHeader::stored_dtype): value range and the same-size
// torch dtype its raw bytes are held in; unsigned types wider than their storage are read widened.
struct VoxelTypeInfo {
  const char* name;
  double lo, hi;
  torch::ScalarType storage;
  torch::ScalarType widened;  // tensor dtype unsigned values are read as; Undefined when not widened
  int wrap_bits;              // > 0: written by wrapping into `storage` (to_unsigned_storage)
};

const VoxelTypeInfo kVoxelTypes[] = {
    {"uint8", 0, 255, torch::kByte, c10::ScalarType::Undefined, 0},
    {"int8", -128, 127, torch::kChar, c10::ScalarType::Undefined, 0},
    {"uint16", 0, 65535, torch::kShort, torch::kInt, 16},
    {"int16", -32768, 32767, torch::kShort, c10::ScalarType::Undefined, 0},
    {"uint32", 0, 4294967295.0, torch::kInt, torch::kLong, 32},
    {"int32", -2147483648.0, 2147483647.0, torch::kInt, c10::ScalarType::Undefined, 0},
    {"uint64", 0, 1.8446744073709552e19, torch::kLong, torch::kLong, 0},
    {"int64", -9.2233720368547758e18, 9.2233720368547758e18, torch::kLong, c10::ScalarType::Undefined, 0},
    {"float32", -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), torch::kFloat,
     c10::ScalarType::Undefined, 0},
    {"float64", -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), torch::kDouble,
     c10::ScalarType::Undefined, 0},
};

const VoxelTypeInfo* voxel_type_info(const std::string& dtype) {
  for (const auto& t : kVoxelTypes)
    if (dtype == t.name) return &t;
  return nullptr;
}

// Bit-pattern narrowing of widened unsigned values back to their same-size signed storage type.
torch::Tensor to_unsigned_storage(const torch::Tensor& v, int bits) {
  if (bits == 64) return v.to(torch::kLong);
  const int64_t wrap = int64_t(1) << bits;
  const int64_t top = (int64_t(1) << (bits - 1)) - 1;
  auto wrapped = torch::where(v > top, v - wrap, v);
  return wrapped.to(bits == 16 ? torch::kShort : torch::kInt);
}

std::pair<double, double> range_of(const std::string& dtype) {
  if (const VoxelTypeInfo* t = voxel_type_info(dtype)) return {t->lo, t->hi};
  return {-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
}

// The same-size torch dtype a stored type's raw bytes are held in.
torch::ScalarType storage_dtype(const std::string& dtype, const std::string& what) {
  if (const VoxelTypeInfo* t = voxel_type_info(dtype)) return t->storage;
  GTGM_THROW(
      "{}: unknown voxel type '{}' (expected uint8, int8, uint16, int16, uint32, int32, uint64, int64, "
      "float32 or float64)",
      what, dtype);
}

bool fits(const torch::Tensor& t, const std::string& dtype) {
  if (t.numel() == 0) return true;
  const auto [lo, hi] = range_of(dtype);
  const auto mm = torch::aminmax(t.to(torch::kDouble));
  return std::get<0>(mm).item<double>() >= lo && std::get<1>(mm).item<double>() <= hi;
}

std::string default_write_dtype(const Volume& v) {
  const auto dt = v.data.scalar_type();
  const VoxelTypeInfo* stored = voxel_type_info(v.stored_dtype);
  const bool widened = stored != nullptr && stored->widened != c10::ScalarType::Undefined && dt == stored->widened;
  if (widened && fits(v.data, v.stored_dtype)) return v.stored_dtype;
  return dtype_name(dt);
}

#ifndef GTGM_WITH_ITK
// Without ITK, NIfTI goes through the built-in reader (io/nifti.h), which reads header and voxels
// together (it checks the allocation limit before allocating).
Volume read_builtin_nifti(const std::string& spec, const ReadOptions& options) {
  GTGM_CHECK(is_nifti_path(spec),
             "{}: this gtgm was built without ITK (GTGM_WITH_ITK=OFF): only NIfTI "
             "(.nii/.nii.gz) and HDF5 volumes can be read",
             spec);
  auto v = read_nifti(spec, options.max_bytes);
  v.stored_dtype = dtype_name(v.data.scalar_type());
  v.source = spec;
  return v;
}

VolumeHeader header_of(const Volume& v) {
  VolumeHeader h;
  h.path = v.source;
  h.format = "NIfTI";
  h.dtype = v.data.scalar_type();
  h.stored_dtype = v.stored_dtype;
  h.file_dims = v.channels() > 1 ? 4 : 3;
  h.channels = v.channels();
  h.shape = v.shape();
  h.geometry = v.geometry;
  return h;
}
#endif

#ifdef GTGM_WITH_ITK
// Writes voxels already converted to the stored type (`data`, as info.read_as) through ITK.
void write_with_itk(const Volume& volume, const fs::path& path, const torch::Tensor& data, const std::string& target,
                    const VolumeExtension& ext, const WriteOptions& options) {
  const std::string spec = path.string();
  const auto info = detail::component_for_name(target, "write_volume " + spec);
  const int64_t c = volume.channels();
  // Detached-header formats reference their data file by name, so they cannot be renamed after
  // writing; the others go to a temporary name in the same folder first.
  const bool detached = ext.kind == VolumeFileKind::MetaImageDetached || ext.kind == VolumeFileKind::NRRDDetached;
  const fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::create_directories(parent);
  const fs::path tmp = detached ? path : parent / fmt::format(".gtgm-tmp-{}-{}", ::getpid(), path.filename().string());
  detail::register_io_factories();
  auto io = itk::ImageIOFactory::CreateImageIO(tmp.string().c_str(), itk::IOFileModeEnum::WriteMode);
  GTGM_CHECK(io, "write_volume {}: no ITK writer for extension '{}'", spec, ext.ext);
  const unsigned dims = c > 1 ? 4 : 3;
  const auto [d, h, w] = volume.shape();
  const std::array<int64_t, 4> size{w, h, d, c};
  io->SetNumberOfDimensions(dims);
  itk::ImageIORegion region(dims);
  for (unsigned a = 0; a < dims; ++a) {
    io->SetDimensions(a, static_cast<itk::SizeValueType>(size[a]));
    io->SetSpacing(a, a < 3 ? volume.geometry.spacing[a] : 1.0);
    io->SetOrigin(a, a < 3 ? volume.geometry.origin[a] : 0.0);
    std::vector<double> col(dims, 0.0);
    for (unsigned r = 0; r < dims; ++r)
      col[r] = (a < 3 && r < 3) ? volume.geometry.dir(static_cast<int>(r), static_cast<int>(a)) : (r == a ? 1.0 : 0.0);
    io->SetDirection(a, col);
    region.SetIndex(a, 0);
    region.SetSize(a, static_cast<itk::SizeValueType>(size[a]));
  }
  io->SetPixelType(itk::IOPixelEnum::SCALAR);
  io->SetComponentType(info.itk_type);
  io->SetNumberOfComponents(1);
  io->SetIORegion(region);
  io->SetUseCompression(options.compress && ext.kind != VolumeFileKind::NIfTI);
  io->SetFileName(tmp.string());
  try {
    io->Write(data.data_ptr());
  } catch (const itk::ExceptionObject& e) {
    std::error_code ec;
    if (!detached) fs::remove(tmp, ec);
    GTGM_THROW("write_volume {}: ITK could not write {} voxels of shape [C, D, H, W] = [{}, {}, {}, {}]: {}", spec,
               target, c, d, h, w, detail::itk_message(e));
  }
  if (!detached) fs::rename(tmp, path);
}
#endif

}  // namespace

std::string dtype_name(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kByte:
      return "uint8";
    case torch::kBool:
      return "uint8";
    case torch::kChar:
      return "int8";
    case torch::kShort:
      return "int16";
    case torch::kInt:
      return "int32";
    case torch::kLong:
      return "int64";
    case torch::kHalf:
    case torch::kBFloat16:
    case torch::kFloat:
      return "float32";
    case torch::kDouble:
      return "float64";
    default:
      GTGM_THROW("no voxel type for tensor dtype {}", c10::toString(dtype));
  }
}

int64_t VolumeHeader::num_bytes() const {
  return channels * shape[0] * shape[1] * shape[2] * static_cast<int64_t>(c10::elementSize(dtype));
}

bool has_volume_extension(const fs::path& path) { return extension_of(path) != nullptr; }

std::string strip_volume_extension(const fs::path& path) {
  const auto name = path.filename().string();
  const VolumeExtension* ext = extension_of(path);
  return ext == nullptr ? name : name.substr(0, name.size() - std::char_traits<char>::length(ext->ext));
}

VolumeHeader read_volume_header(const fs::path& path, const ReadOptions& options) {
  const std::string spec = path.string();
  if (auto h5 = split_hdf5_path(spec)) return read_hdf5_volume_header(h5->first, h5->second, options);
  GTGM_CHECK(fs::exists(path), "{}: no such file or folder (expected a volume file or a DICOM series folder)", spec);
  if (fs::is_directory(path)) return read_dicom_series_header(path, options);
  GTGM_CHECK(::access(spec.c_str(), R_OK) == 0, "{}: file is not readable (permission denied)", spec);
#ifdef GTGM_WITH_ITK
  auto io = detail::open_image_io(spec);
  auto header = detail::header_from_io(*io, spec);
#else
  auto header = header_of(read_builtin_nifti(spec, options));
#endif
  check_header(header, options);
  return header;
}

Volume read_volume(const fs::path& path, const ReadOptions& options) {
  const std::string spec = path.string();
  if (auto h5 = split_hdf5_path(spec)) return read_hdf5_volume(h5->first, h5->second, options);
  GTGM_CHECK(fs::exists(path), "{}: no such file or folder (expected a volume file or a DICOM series folder)", spec);
  if (fs::is_directory(path)) return read_dicom_series(path, options);
  GTGM_CHECK(::access(spec.c_str(), R_OK) == 0, "{}: file is not readable (permission denied)", spec);
  Volume v;
#ifdef GTGM_WITH_ITK
  auto io = detail::open_image_io(spec);
  const auto header = detail::header_from_io(*io, spec);
  check_header(header, options);
  detail::check_payload_complete(spec, header);
  if (detail::is_plain_nifti1(spec)) {
    // The built-in reader keeps NaN/Inf (ITK's NIfTI library zeroes them) and detects truncation;
    // geometry stays ITK's, as read_volume_header reports it.
    v.data = read_nifti(spec, options.max_bytes).data;
    GTGM_CHECK(v.data.size(0) == header.channels && v.data.size(1) == header.shape[0] &&
                   v.data.size(2) == header.shape[1] && v.data.size(3) == header.shape[2],
               "{}: the built-in NIfTI reader found shape {}, ITK's header [{}, {}, {}, {}]", spec, v.data.sizes(),
               header.channels, header.shape[0], header.shape[1], header.shape[2]);
    if (v.data.scalar_type() != header.dtype) v.data = v.data.to(header.dtype);
  } else {
    v.data = detail::read_io_voxels(*io, header);
  }
  v.geometry = header.geometry;
  v.stored_dtype = header.stored_dtype;
#else
  v = read_builtin_nifti(spec, options);
  check_header(header_of(v), options);
#endif
  v.source = spec;
  apply_non_finite_policy(v, options.non_finite);
  return v;
}

void write_volume(const Volume& volume, const fs::path& path, const WriteOptions& options) {
  const std::string spec = path.string();
  GTGM_CHECK(volume.data.defined() && volume.data.dim() == 4, "write_volume {}: expected data [C, D, H, W], found {}",
             spec, volume.data.defined() ? fmt::format("{}", volume.data.sizes()) : std::string("an undefined tensor"));
  check_geometry_valid(volume.geometry, "write_volume " + spec);
  if (auto h5 = split_hdf5_path(spec)) {
    Hdf5WriteOptions ho;
    ho.dtype = options.dtype.empty() ? default_write_dtype(volume) : options.dtype;
    ho.gzip_level = options.compress ? 4 : 0;
    write_hdf5_volume(h5->first, h5->second.empty() ? "volumes/raw" : h5->second, volume, ho);
    return;
  }
  const VolumeExtension* ext = extension_of(path);
  GTGM_CHECK(ext == nullptr || ext->kind != VolumeFileKind::DICOM,
             "write_volume {}: DICOM is written as a series folder: use write_dicom_series", spec);
  GTGM_CHECK(ext != nullptr,
             "write_volume {}: unknown extension (expected .nii.gz, .nii, .nrrd, .nhdr, .mha, "
             ".mhd, .tif, .tiff, .h5, .hdf or .hdf5)",
             spec);
  const int64_t c = volume.channels();
  const bool tiff = ext->kind == VolumeFileKind::TIFF;
  if (tiff) {
    GTGM_CHECK(c == 1, "write_volume {}: TIFF stacks hold one channel, found C = {}", spec, c);
    const Geometry identity;
    GTGM_CHECK(volume.geometry.origin == identity.origin && volume.geometry.direction == identity.direction,
               "write_volume {}: TIFF cannot store origin ({}, {}, {}) or a non-identity direction; write "
               ".nii.gz/.nrrd/.mha to keep the geometry, or reset origin/direction first",
               spec, volume.geometry.origin[0], volume.geometry.origin[1], volume.geometry.origin[2]);
  }

  // Voxels in the stored type.
  const std::string target = options.dtype.empty() ? default_write_dtype(volume) : options.dtype;
  const auto storage = storage_dtype(target, "write_volume " + spec);
  auto data = volume.data.detach().to(torch::kCPU);
  if (data.scalar_type() == torch::kBool) data = data.to(torch::kByte);
  if (data.is_floating_point() && !torch::isFloatingType(storage)) {
    check_finite(Volume{data, volume.geometry, spec, ""});
    data = data.round();
  }
  if (target != dtype_name(data.scalar_type())) {
    GTGM_CHECK(fits(data, target), "write_volume {}: values [{}, {}] do not fit the voxel type {}", spec,
               data.min().item<double>(), data.max().item<double>(), target);
  }
  const VoxelTypeInfo* target_info = voxel_type_info(target);
  if (target_info != nullptr && target_info->wrap_bits > 0)
    data = to_unsigned_storage(data.to(torch::kLong), target_info->wrap_bits);
  else
    data = data.to(storage);
  data = data.contiguous();

#ifdef GTGM_WITH_ITK
  write_with_itk(volume, path, data, target, *ext, options);
#else
  GTGM_CHECK(is_nifti_path(path),
             "write_volume {}: this gtgm was built without ITK (GTGM_WITH_ITK=OFF): only NIfTI "
             "(.nii/.nii.gz) and HDF5 volumes can be written",
             spec);
  Volume out = volume;
  out.data = data;
  write_nifti(out, path);
#endif
}

}  // namespace gtgm::io
