#pragma once
/// DICOM series (through ITK's GDCM I/O): a folder of 2D slices -> one 3D volume.
#include <filesystem>
#include <string>
#include <vector>

#include "gtgm/io/volume_io.h"

namespace gtgm::io {

/// One series found in a folder.
struct DicomSeries {
  std::string uid;                 ///< SeriesInstanceUID (plus GDCM's series details)
  std::vector<std::string> files;  ///< slice files sorted by position along the slice normal
};

/// Lists the DICOM series in `folder` (not recursive), each with its files sorted by Image
/// Position (Patient) projected on the slice normal (GDCM's series helper). Empty when the folder
/// holds no DICOM file.
std::vector<DicomSeries> list_dicom_series(const std::filesystem::path& folder);

/// Header of the series in `folder` (options.dicom_series_uid picks one of several). Geometry:
/// origin = position of the first slice, direction columns = row, column and slice-normal
/// directions, z spacing = distance between consecutive slice positions (must be uniform within
/// 1e-3 relative; an error names the first irregular gap otherwise).
VolumeHeader read_dicom_series_header(const std::filesystem::path& folder, const ReadOptions& options = {});

/// Reads the series in `folder`: data [1, slices, rows, columns] in the slices' pixel type after
/// DICOM rescale (GDCM decides: e.g. int16 CT with intercept -1024).
Volume read_dicom_series(const std::filesystem::path& folder, const ReadOptions& options = {});

/// Writes `volume` (C == 1; dtype uint8, int16, or int32 holding uint16 values) as one DICOM
/// file per slice `folder/slice_0000.dcm`, ... with Image Position/Orientation (Patient) and
/// Pixel Spacing from its geometry and one new SeriesInstanceUID. `file_order` (optional, a
/// permutation of slice indices) names the files in another order, for tests of position sorting.
void write_dicom_series(const Volume& volume, const std::filesystem::path& folder,
                        const std::vector<int64_t>& file_order = {});

}  // namespace gtgm::io
