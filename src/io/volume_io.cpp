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

const std::vector<std::string>& volume_extensions() {
  // Longest first so ".nii.gz" wins over ".gz".
  static const std::vector<std::string> exts = {".nii.gz", ".nrrd", ".nhdr", ".hdf5", ".tiff", ".nii",
                                                ".mha",    ".mhd",  ".tif",  ".dcm",  ".hdf",  ".h5"};
  return exts;
}

std::string extension_of(const fs::path& path) {
  const auto name = core::lower(path.filename().string());
  for (const auto& e : volume_extensions())
    if (core::ends_with(name, e)) return e;
  return "";
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
  if (dtype == "uint8") return {0, 255};
  if (dtype == "int8") return {-128, 127};
  if (dtype == "uint16") return {0, 65535};
  if (dtype == "int16") return {-32768, 32767};
  if (dtype == "uint32") return {0, 4294967295.0};
  if (dtype == "int32") return {-2147483648.0, 2147483647.0};
  if (dtype == "uint64") return {0, 1.8446744073709552e19};
  if (dtype == "int64") return {-9.2233720368547758e18, 9.2233720368547758e18};
  return {-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
}

// The same-size torch dtype a stored type's raw bytes are held in.
torch::ScalarType storage_dtype(const std::string& dtype, const std::string& what) {
  if (dtype == "uint8") return torch::kByte;
  if (dtype == "int8") return torch::kChar;
  if (dtype == "uint16" || dtype == "int16") return torch::kShort;
  if (dtype == "uint32" || dtype == "int32") return torch::kInt;
  if (dtype == "uint64" || dtype == "int64") return torch::kLong;
  if (dtype == "float32") return torch::kFloat;
  if (dtype == "float64") return torch::kDouble;
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
  const bool widened = (v.stored_dtype == "uint16" && dt == torch::kInt) ||
                       ((v.stored_dtype == "uint32" || v.stored_dtype == "uint64") && dt == torch::kLong);
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
                    const std::string& ext, const WriteOptions& options) {
  const std::string spec = path.string();
  const auto info = detail::component_for_name(target, "write_volume " + spec);
  const int64_t c = volume.channels();
  // Detached-header formats reference their data file by name, so they cannot be renamed after
  // writing; the others go to a temporary name in the same folder first.
  const bool detached = ext == ".mhd" || ext == ".nhdr";
  const fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::create_directories(parent);
  const fs::path tmp = detached ? path : parent / fmt::format(".gtgm-tmp-{}-{}", ::getpid(), path.filename().string());
  detail::register_io_factories();
  auto io = itk::ImageIOFactory::CreateImageIO(tmp.string().c_str(), itk::IOFileModeEnum::WriteMode);
  GTGM_CHECK(io, "write_volume {}: no ITK writer for extension '{}'", spec, ext);
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
  io->SetUseCompression(options.compress && ext != ".nii");
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

bool has_volume_extension(const fs::path& path) { return !extension_of(path).empty(); }

std::string strip_volume_extension(const fs::path& path) {
  const auto name = path.filename().string();
  const auto ext = extension_of(path);
  return name.substr(0, name.size() - ext.size());
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
  const auto ext = extension_of(path);
  GTGM_CHECK(ext != ".dcm", "write_volume {}: DICOM is written as a series folder: use write_dicom_series", spec);
  GTGM_CHECK(!ext.empty(),
             "write_volume {}: unknown extension (expected .nii.gz, .nii, .nrrd, .nhdr, .mha, "
             ".mhd, .tif, .tiff, .h5, .hdf or .hdf5)",
             spec);
  const int64_t c = volume.channels();
  const bool tiff = ext == ".tif" || ext == ".tiff";
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
  if (target == "uint16")
    data = to_unsigned_storage(data.to(torch::kLong), 16);
  else if (target == "uint32")
    data = to_unsigned_storage(data.to(torch::kLong), 32);
  else
    data = data.to(storage);
  data = data.contiguous();

#ifdef GTGM_WITH_ITK
  write_with_itk(volume, path, data, target, ext, options);
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
