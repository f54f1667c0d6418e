#pragma once
/// `gtgm caption`: for every volume, grid positions (text.captioner.step) -> rendered views ->
/// captioner -> caption cache, appended line by line so a killed run loses nothing and a re-run
/// skips the positions already captioned.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gtgm/config/text_config.h"
#include "gtgm/text/captioner.h"

namespace gtgm::text {

struct CaptionRunOptions {
  std::vector<std::filesystem::path> inputs;  ///< volume files and/or folders of volume files
  std::filesystem::path out;                  ///< caption cache (JSONL)
  int64_t max_positions = -1;                 ///< per volume, first N grid positions (-1 = all)
};

struct CaptionRunResult {
  int64_t volumes = 0;
  int64_t positions = 0;  ///< grid positions of all volumes
  int64_t skipped = 0;    ///< already in the cache
  int64_t written = 0;
  int64_t failed = 0;
  std::string first_error;
};

/// Volume id of an image path: the file name without its image extension(s) ("liver_3.nii.gz"
/// -> "liver_3"), or the folder name for a DICOM series folder. These are the ids the data
/// manifests use for cases.
std::string volume_id_from_path(const std::filesystem::path& path);

/// Expands inputs: files are kept, a folder contributes its image files (.nii, .nii.gz, .nrrd,
/// .nhdr, .mha, .mhd, .tif, .tiff, .h5, .hdf, .hdf5; hidden and "._" files skipped, sorted), or
/// itself when it holds only DICOM files. Duplicate volume ids throw, naming both paths.
std::vector<std::filesystem::path> list_volume_inputs(const std::vector<std::filesystem::path>& inputs);

/// Captions every missing (volume, position) with `captioner` (captioner->concurrency() worker
/// threads). Positions that fail (after the client's retries) are counted and skipped; the run
/// goes on, and a later run retries them. Channel 0 of multi-channel volumes is described.
CaptionRunResult run_caption(const config::CaptionerConfig& cfg, Captioner& captioner,
                             const CaptionRunOptions& options);

}  // namespace gtgm::text
