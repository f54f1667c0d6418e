#pragma once
/// Reading and writing medical volumes through ITK (NIfTI, NRRD, MetaImage, TIFF, DICOM) and
/// HDF5, into the one in-memory type io::Volume ([C, D, H, W] + geometry; see volume.h).
///
/// Supported paths:
///  - `x.nii`, `x.nii.gz` (NIfTI-1/2; a 4D file's 4th axis becomes channels)
///  - `x.nrrd`, `x.nhdr` (NRRD), `x.mha`, `x.mhd` (MetaImage), `x.tif`, `x.tiff` (multi-page stack)
///  - a folder holding one DICOM series (slices sorted by position, see dicom_io.h), or one DICOM
///    file (`x.dcm` or any name GDCM recognises)
///  - `x.h5`, `x.hdf`, `x.hdf5` optionally followed by `:DATASET` (default: `volumes/raw` when
///    present, else the file's only dataset); spacing from the dataset's `resolution` attribute
///    (CREMI, (z, y, x) order), origin from `offset`.
/// Without ITK (GTGM_WITH_ITK off) only NIfTI (built-in reader, io/nifti.h) and HDF5 work.
/// Vector pixels (RGB, vector NRRD) also become channels. Unsigned 16/32/64-bit voxels are widened
/// to int32/int64 (LibTorch 1.13 has no unsigned types besides uint8); Volume::stored_dtype keeps
/// the file's type.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gtgm/io/nifti.h"  // kDefaultMaxVolumeBytes; the built-in NIfTI reader used without ITK
#include "gtgm/io/volume.h"

namespace gtgm::io {

/// What read_volume does with NaN/Inf voxels of floating-point files. Default: Error, because a
/// NaN in an input silently poisons normalisation statistics and losses.
enum class NonFinitePolicy {
  Error,  ///< throw, naming the file, the count and the first position
  Allow,  ///< keep them (caller handles them)
  Zero,   ///< replace NaN/Inf by 0 and log a warning
};

struct ReadOptions {
  /// Refuse (before allocating) volumes whose voxel buffer, in the tensor dtype, would exceed this.
  int64_t max_bytes = kDefaultMaxVolumeBytes;
  /// Error when the file has more than one channel (4D or vector pixels), e.g. for label files.
  bool require_3d = false;
  NonFinitePolicy non_finite = NonFinitePolicy::Error;
  /// Error when the direction matrix is not orthonormal (tolerance 1e-4).
  bool check_direction = true;
  /// DICOM folders with several series: the SeriesInstanceUID to read ("" = error listing them).
  std::string dicom_series_uid;
};

/// What a file holds, read from its header only (no voxel buffer is allocated).
struct VolumeHeader {
  std::string path;
  std::string format;                       ///< "NIfTI", "NRRD", "MetaImage", "TIFF", "DICOM", "DICOM series", "HDF5"
  std::string stored_dtype;                 ///< component type in the file ("int16", "uint16", "float32", ...)
  torch::ScalarType dtype = torch::kFloat;  ///< dtype of Volume::data after reading
  int file_dims = 3;                        ///< dimensions in the file (2, 3 or 4)
  int64_t channels = 1;                     ///< 4th-axis length x pixel components
  std::array<int64_t, 3> shape{1, 1, 1};    ///< {D, H, W}
  Geometry geometry;
  std::vector<std::string> files;  ///< DICOM series: the slice files in position order

  /// Bytes of the voxel buffer read_volume would allocate.
  int64_t num_bytes() const;
};

/// Reads only the header of `path` (see the supported paths above). Throws gtgm::Error naming the
/// path for missing, unreadable, truncated-header or unsupported files, and for a non-orthonormal
/// direction (when options.check_direction).
VolumeHeader read_volume_header(const std::filesystem::path& path, const ReadOptions& options = {});

/// Reads a whole volume: data [C, D, H, W] on CPU in the stored dtype (see widening above). The
/// header is read and checked first (allocation limit, 3D requirement, direction); then NaN/Inf
/// per options.non_finite. Errors name the path and what was expected and found.
Volume read_volume(const std::filesystem::path& path, const ReadOptions& options = {});

struct WriteOptions {
  /// Component type to write ("uint8", "int16", "uint16", "int32", "int64", "float32",
  /// "float64", ...). "" = Volume::stored_dtype when the values fit it, else the tensor's dtype
  /// (bool -> uint8, float16/bfloat16 -> float32).
  std::string dtype;
  /// Compress where the format allows (NRRD gzip, MetaImage zlib, HDF5 gzip); `.nii.gz` is
  /// always compressed and `.nii` never.
  bool compress = true;
};

/// Writes `volume` to `path`, format from the extension (NIfTI, NRRD, MetaImage, TIFF, HDF5;
/// DICOM series through write_dicom_series). Geometry is kept to the precision of the format
/// (NIfTI stores float32). C > 1 is written as a 4D image (NIfTI/NRRD/MetaImage/HDF5).
/// Single-file formats are written to a temporary name and renamed (no half-written files).
void write_volume(const Volume& volume, const std::filesystem::path& path, const WriteOptions& options = {});

/// Whether `path` names a file read_volume understands by its extension (.nii, .nii.gz, .nrrd,
/// .nhdr, .mha, .mhd, .tif, .tiff, .dcm, .h5, .hdf, .hdf5).
bool has_volume_extension(const std::filesystem::path& path);

/// The file name without its volume extension ("case_001.nii.gz" -> "case_001").
std::string strip_volume_extension(const std::filesystem::path& path);

/// "uint8", "int16", ... for a tensor dtype (the name write_volume would store).
std::string dtype_name(torch::ScalarType dtype);

}  // namespace gtgm::io
