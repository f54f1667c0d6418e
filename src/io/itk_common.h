#pragma once
// Internal to io/: the glue between ITK's type-erased ImageIOBase and io::Volume, shared by
// volume_io.cpp (single files) and dicom_io.cpp (series). No templates: every read goes through
// ImageIOBase::Read into a buffer of the file's component type.
#include <itkImageIOBase.h>

#include <string>

#include "gtgm/io/volume_io.h"

namespace gtgm::io::detail {

/// How one ITK component type is held in memory.
struct ComponentInfo {
  itk::IOComponentEnum itk_type;
  std::string name;           ///< "uint16", ...
  torch::ScalarType read_as;  ///< same-size torch dtype the raw bytes are read into
  torch::ScalarType tensor;   ///< dtype of Volume::data (widened for unsigned 16/32/64)
  int64_t bytes;              ///< bytes per component in the file
};

/// Registers the NIfTI, NRRD, MetaImage, TIFF and GDCM ImageIO factories once. Explicit because
/// ITK's automatic registration (ITK_IO_FACTORY_REGISTER_MANAGER) depends on which translation
/// units of the final executable include ITK headers and on static-initialisation order.
void register_io_factories();

/// Info for an ITK component type; throws naming `what` for unsupported types.
ComponentInfo component_info(itk::IOComponentEnum type, const std::string& what);

/// ITK component type for a dtype name ("uint8", "int16", ... "float64"); throws listing them.
ComponentInfo component_for_name(const std::string& name, const std::string& what);

/// ITK's message without its long source-location prefix.
std::string itk_message(const itk::ExceptionObject& e);

/// An ImageIO that can read `path`, with ReadImageInformation done. Throws gtgm::Error naming the
/// path when no reader recognises the file or its header cannot be read.
itk::ImageIOBase::Pointer open_image_io(const std::string& path);

/// "NIfTI", "NRRD", ... from an ImageIO's class name.
std::string format_name(const itk::ImageIOBase& io);

/// Header of an opened ImageIO (2D -> D = 1; 4D -> channels; vector pixels -> channels).
VolumeHeader header_from_io(const itk::ImageIOBase& io, const std::string& path);

/// Reads all voxels of an opened ImageIO as [C, D, H, W] in the widened dtype.
torch::Tensor read_io_voxels(itk::ImageIOBase& io, const VolumeHeader& header);

/// Converts a buffer read as `info.read_as` into `info.tensor` (unsigned widening; uint64 values
/// >= 2^63 are refused naming `what`).
torch::Tensor widen_unsigned(torch::Tensor raw, const ComponentInfo& info, const std::string& what);

}  // namespace gtgm::io::detail
