#pragma once
/// Built-in NIfTI-1 (.nii / .nii.gz) reader and writer that needs no ITK: clusters whose build
/// lacks ITK still read and write the MSD datasets. Geometry follows io/volume.h (ITK's LPS
/// convention), the same values ITK's NiftiImageIO reports for files with qform/sform codes > 0.
#include <cstdint>
#include <filesystem>

#include "gtgm/io/volume.h"

namespace gtgm::io {

/// Default refusal limit for the voxel payload (bytes) declared by a header: 16 GiB.
constexpr int64_t kDefaultMaxVolumeBytes = int64_t{16} << 30;

/// Whether the path ends in .nii or .nii.gz.
bool is_nifti_path(const std::filesystem::path& path);

/// Reads a NIfTI-1 file. 4D files become channels [C=dim4, D, H, W]. uint16 is widened to int32
/// and uint32/uint64 to int64 (LibTorch has no unsigned types beyond uint8); scl_slope/scl_inter
/// other than (0|1, 0) give float32. Throws gtgm::Error naming the file for a bad magic, NIfTI-2,
/// unsupported datatype, a declared payload above `max_bytes` (before allocating), or truncation.
Volume read_nifti(const std::filesystem::path& path, int64_t max_bytes = kDefaultMaxVolumeBytes);

/// Writes `vol` as NIfTI-1 (.nii.gz compressed by extension) atomically, with identical qform and
/// sform (code 1) so that any reader recovers spacing, origin and direction. bool -> uint8.
void write_nifti(const Volume& vol, const std::filesystem::path& path);

}  // namespace gtgm::io
