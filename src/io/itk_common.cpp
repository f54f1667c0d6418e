// Compiled only with ITK (GTGM_WITH_ITK).
#ifdef GTGM_WITH_ITK
#include "itk_common.h"

#include <fmt/format.h>
#include <itkGDCMImageIOFactory.h>
#include <itkImageIOFactory.h>
#include <itkMetaImageIOFactory.h>
#include <itkNiftiImageIOFactory.h>
#include <itkNrrdImageIOFactory.h>
#include <itkTIFFImageIOFactory.h>
#include <itkVersion.h>

#include <mutex>
#include <numeric>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"
#include "payload_check.h"

namespace gtgm::io::detail {

namespace {

using C = itk::IOComponentEnum;

const std::vector<ComponentInfo>& component_table() {
  // LibTorch 1.13 has no uint16/uint32/uint64: those are read into the same-size signed type and
  // widened (see widen_unsigned). ITK's LONG/ULONG are 8 bytes on LP64 Linux.
  static const std::vector<ComponentInfo> table = {
      {C::UCHAR, "uint8", torch::kByte, torch::kByte, 1},
      {C::CHAR, "int8", torch::kChar, torch::kChar, 1},
      {C::USHORT, "uint16", torch::kShort, torch::kInt, 2},
      {C::SHORT, "int16", torch::kShort, torch::kShort, 2},
      {C::UINT, "uint32", torch::kInt, torch::kLong, 4},
      {C::INT, "int32", torch::kInt, torch::kInt, 4},
      {C::ULONGLONG, "uint64", torch::kLong, torch::kLong, 8},
      {C::LONGLONG, "int64", torch::kLong, torch::kLong, 8},
      {C::FLOAT, "float32", torch::kFloat, torch::kFloat, 4},
      {C::DOUBLE, "float64", torch::kDouble, torch::kDouble, 8},
  };
  return table;
}

std::string supported_names() {
  std::string out;
  for (const auto& c : component_table()) out += (out.empty() ? "" : ", ") + c.name;
  return out;
}

}  // namespace

void register_io_factories() {
  static std::once_flag once;
  std::call_once(once, [] {
    itk::NiftiImageIOFactory::RegisterOneFactory();
    itk::NrrdImageIOFactory::RegisterOneFactory();
    itk::MetaImageIOFactory::RegisterOneFactory();
    itk::TIFFImageIOFactory::RegisterOneFactory();
    itk::GDCMImageIOFactory::RegisterOneFactory();
  });
}

ComponentInfo component_info(itk::IOComponentEnum type, const std::string& what) {
  if (type == C::ULONG) type = sizeof(unsigned long) == 8 ? C::ULONGLONG : C::UINT;
  if (type == C::LONG) type = sizeof(long) == 8 ? C::LONGLONG : C::INT;
  for (const auto& c : component_table())
    if (c.itk_type == type) return c;
  GTGM_THROW("{}: unsupported voxel component type '{}' (expected one of {})", what,
             itk::ImageIOBase::GetComponentTypeAsString(type), supported_names());
}

ComponentInfo component_for_name(const std::string& name, const std::string& what) {
  for (const auto& c : component_table())
    if (c.name == name) return c;
  GTGM_THROW("{}: unknown voxel type '{}' (expected one of {})", what, name, supported_names());
}

std::string itk_message(const itk::ExceptionObject& e) {
  std::string d = e.GetDescription();
  while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
  return d;
}

itk::ImageIOBase::Pointer open_image_io(const std::string& path) {
  register_io_factories();
  // ITK's NIfTI reader aborts the process (vnl) on a NaN/Inf or zero-size axis in the header's
  // geometry: refuse such a header, naming the field, before ITK sees it.
  const std::string lower = core::lower(path);
  int nifti_version = 0;
  if (core::ends_with(lower, ".nii") || core::ends_with(lower, ".nii.gz") || core::ends_with(lower, ".hdr")) {
    check_nifti_geometry(path);
    nifti_version = nifti_header_version(path);
  }
  // A valid NIfTI-2 file that this ITK cannot read is named as such, not as a corrupt file.
  const auto nifti2_unsupported = [&](const std::string& why) {
    GTGM_THROW(
        "{}: NIfTI-2 is not supported by this ITK build (ITK {}; {}); convert the file to NIfTI-1 "
        "(e.g. nibabel: nib.save(nib.Nifti1Image.from_image(nib.load(f)), out))",
        path, itk::Version::GetITKVersion(), why);
  };
  itk::ImageIOBase::Pointer io;
  try {
    io = itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::IOFileModeEnum::ReadMode);
  } catch (const itk::ExceptionObject& e) {
    if (nifti_version == 2) nifti2_unsupported(itk_message(e));
    GTGM_THROW("{}: cannot open: {}", path, itk_message(e));
  }
  if (!io && nifti_version == 2) nifti2_unsupported("no ITK reader recognises it");
  GTGM_CHECK(io,
             "{}: cannot read this file: no image reader recognises it (expected NIfTI .nii/.nii.gz, "
             "NRRD .nrrd/.nhdr, MetaImage .mha/.mhd, TIFF .tif/.tiff or DICOM); the file is corrupt, "
             "truncated or not an image",
             path);
  io->SetFileName(path);
  try {
    io->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    if (nifti_version == 2) nifti2_unsupported(itk_message(e));
    GTGM_THROW("{}: cannot read the {} header (file unreadable, truncated or corrupt): {}", path, format_name(*io),
               itk_message(e));
  }
  return io;
}

std::string format_name(const itk::ImageIOBase& io) {
  // ITK reader class -> the format name of headers and `gtgm info`; others: the class without "ImageIO".
  static constexpr std::pair<const char*, const char*> kItkFormatNames[] = {{"NiftiImageIO", "NIfTI"},
                                                                            {"NrrdImageIO", "NRRD"},
                                                                            {"MetaImageIO", "MetaImage"},
                                                                            {"TIFFImageIO", "TIFF"},
                                                                            {"GDCMImageIO", "DICOM"}};
  const std::string cls = io.GetNameOfClass();
  for (const auto& [itk_class, format] : kItkFormatNames) {
    if (cls == itk_class) return format;
  }
  const auto pos = cls.find("ImageIO");
  return pos == std::string::npos ? cls : cls.substr(0, pos);
}

VolumeHeader header_from_io(const itk::ImageIOBase& io, const std::string& path) {
  VolumeHeader h;
  h.path = path;
  h.format = format_name(io);
  const auto dims = static_cast<int>(io.GetNumberOfDimensions());
  GTGM_CHECK(dims >= 2 && dims <= 4, "{}: expected a 2D, 3D or 4D image, found {} dimensions", path, dims);
  const auto pixel = io.GetPixelType();
  GTGM_CHECK(pixel != itk::IOPixelEnum::COMPLEX, "{}: complex voxels are not supported (expected real values)", path);
  const auto info = component_info(io.GetComponentType(), path);
  h.stored_dtype = info.name;
  h.dtype = info.tensor;
  h.file_dims = dims;
  const int64_t t = dims == 4 ? static_cast<int64_t>(io.GetDimensions(3)) : 1;
  h.channels = t * static_cast<int64_t>(io.GetNumberOfComponents());
  const int spatial = std::min(dims, 3);
  // Tensor order {D, H, W} = ITK axes (k, j, i).
  std::array<int64_t, 3> size_ijk{1, 1, 1};
  for (int a = 0; a < spatial; ++a) {
    size_ijk[static_cast<size_t>(a)] = static_cast<int64_t>(io.GetDimensions(static_cast<unsigned>(a)));
    h.geometry.spacing[static_cast<size_t>(a)] = io.GetSpacing(static_cast<unsigned>(a));
    h.geometry.origin[static_cast<size_t>(a)] = io.GetOrigin(static_cast<unsigned>(a));
    const auto col = io.GetDirection(static_cast<unsigned>(a));
    for (int r = 0; r < 3; ++r)
      h.geometry.direction[static_cast<size_t>(r * 3 + a)] =
          r < static_cast<int>(col.size()) && r < spatial ? col[static_cast<size_t>(r)] : (r == a ? 1.0 : 0.0);
  }
  h.shape = {size_ijk[2], size_ijk[1], size_ijk[0]};
  return h;
}

torch::Tensor widen_unsigned(torch::Tensor raw, const ComponentInfo& info, const std::string& what) {
  if (info.read_as == info.tensor) {
    if (info.itk_type == C::ULONGLONG) {
      GTGM_CHECK(!(raw < 0).any().item<bool>(),
                 "{}: uint64 values >= 2^63 cannot be held as int64 "
                 "(expected values below 9223372036854775808)",
                 what);
    }
    return raw;
  }
  if (info.itk_type == C::USHORT) return raw.to(torch::kInt).bitwise_and(0xFFFF);
  if (info.itk_type == C::UINT) return raw.to(torch::kLong).bitwise_and(int64_t(0xFFFFFFFF));
  GTGM_THROW("{}: internal: no widening from {}", what, info.name);
}

torch::Tensor read_io_voxels(itk::ImageIOBase& io, const VolumeHeader& header) {
  const auto info = component_info(io.GetComponentType(), header.path);
  const auto dims = io.GetNumberOfDimensions();
  itk::ImageIORegion region(dims);
  for (unsigned a = 0; a < dims; ++a) {
    region.SetIndex(a, 0);
    region.SetSize(a, io.GetDimensions(a));
  }
  io.SetIORegion(region);
  const int64_t t = dims == 4 ? static_cast<int64_t>(io.GetDimensions(3)) : 1;
  const auto comps = static_cast<int64_t>(io.GetNumberOfComponents());
  const auto [d, hh, w] = header.shape;
  // File order: components fastest, then i (W), j (H), k (D), then the 4th axis.
  auto raw = torch::empty({t, d, hh, w, comps}, torch::TensorOptions().dtype(info.read_as));
  try {
    io.Read(raw.data_ptr());
  } catch (const itk::ExceptionObject& e) {
    GTGM_THROW(
        "{}: cannot read the voxels ({} {} values of shape [C, D, H, W] = [{}, {}, {}, {}]): {}; the "
        "file is truncated or corrupt",
        header.path, raw.numel(), info.name, header.channels, d, hh, w, itk_message(e));
  }
  auto data = raw.permute({0, 4, 1, 2, 3}).reshape({t * comps, d, hh, w});
  return widen_unsigned(data.contiguous(), info, header.path);
}

}  // namespace gtgm::io::detail

#endif  // GTGM_WITH_ITK
