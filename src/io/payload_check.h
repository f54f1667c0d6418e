#pragma once
// Internal to io/: ITK's NIfTI, MetaImage and NRRD readers return normally (after a message on
// stderr) when a file ends before its declared voxel data; this check catches that from the
// file's own header before ITK reads the voxels.
#include <string>

#include "gtgm/io/volume_io.h"

namespace gtgm::io::detail {

/// Throws "<path>: truncated ..." when the file (or its detached data file) is shorter than its
/// header declares, or "<path>: corrupt compressed data" when a .nii.gz stream is damaged.
/// Covers NIfTI-1/2 (.nii, .nii.gz), MetaImage (LOCAL or external raw data, uncompressed) and NRRD
/// (raw encoding, attached or detached); other encodings and formats are left to their decoders.
/// `header` supplies the element count and component size (MetaImage, NRRD).
void check_payload_complete(const std::string& path, const VolumeHeader& header);

/// Whether `path` is a single-file NIfTI-1 (magic "n+1", .nii or .nii.gz) whose 5th-7th dims are 1:
/// what the built-in reader (io/nifti.h) handles. read_volume prefers it for such files because
/// ITK's NIfTI library silently replaces NaN/Inf voxels by 0, hiding them from the NaN check.
bool is_plain_nifti1(const std::string& path);

/// 1 or 2 for a NIfTI-1/-2 header (either byte order, .gz or not), 0 for anything else.
int nifti_header_version(const std::string& path);

/// Refuses a NIfTI-1/2 header whose geometry would crash or mislead a reader, before ITK sees it:
/// non-finite or zero pixdim[1..3] of the spatial axes, spacing above 1e5 (100 m in mm), a NaN/Inf
/// in the qform (qform_code > 0) or sform (sform_code > 0) fields, or a zero-length sform axis.
/// The message names the file and the field ("srow_x has NaN", "pixdim[1] = 0"). Other files pass.
void check_nifti_geometry(const std::string& path);

}  // namespace gtgm::io::detail
