#pragma once
#include <filesystem>
#include <string>

namespace gtgm::io {

/// ITK version this binary links ("5.2.1"), or "not built with ITK".
std::string itk_version();

/// What `gtgm info --volume PATH` prints (like fslinfo/mrinfo): format, stored and tensor dtype,
/// shape [C, D, H, W], channels, spacing/origin/direction (ITK x, y, z order), orientation codes,
/// intensity range and mean, and the slice files of a DICOM series. Reads the whole volume.
std::string describe_volume(const std::filesystem::path& path);

}  // namespace gtgm::io
