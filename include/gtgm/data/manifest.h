#pragma once
/// Dataset manifests: which cases a dataset holds and where their files are, for the layouts
/// gtgm reads (see docs/datasets.md):
///  - "msd":    Medical Segmentation Decathlon task folder: dataset.json with "training":
///              [{"image", "label"}], "test": [paths], "labels": {"0": "background", ...},
///              "modality": {"0": "CT"}. A 4D image file holds all channels.
///  - "nnunet": nnU-Net v2 raw dataset: imagesTr/CASE_XXXX<ending> (one file per channel XXXX),
///              labelsTr/CASE<ending>, optional imagesTs/, dataset.json with "channel_names",
///              "labels" ({"background": 0, ...}) and "file_ending".
///  - "cremi":  a folder of CREMI HDF5 files (or a text file listing them, one per line): each
///              file is a case, image FILE:volumes/raw, label FILE:volumes/labels/neuron_ids.
///  - "glob":   unlabeled volumes for pretraining: every file under the root matching a pattern.
/// Every path resolves inside the dataset root: `..` escapes and absolute paths elsewhere are
/// refused unless allow_outside_root. Cases are sorted by id; `listed` keeps dataset.json's order
/// for the seeded split (data.split_order: file, as the reference code).
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/io/checks.h"
#include "gtgm/io/volume.h"
#include "gtgm/io/volume_io.h"

namespace gtgm::data {

/// One case: its image files (one per channel file; an MSD 4D file is one entry holding all
/// channels) and its label file ("" when unlabeled). HDF5 entries are "FILE:DATASET".
struct CaseEntry {
  std::string id;
  std::vector<std::string> images;
  std::string label;
};

struct Manifest {
  std::string name;    ///< dataset.json "name", else the root folder's name
  std::string format;  ///< "msd", "nnunet", "cremi" or "glob"
  std::filesystem::path root;
  std::vector<std::string> channel_names;  ///< per channel ("CT", "T2", ...); empty when unknown
  std::map<int64_t, std::string> labels;   ///< label value -> name; empty when unlabeled/instance ids
  std::string file_ending;                 ///< nnU-Net "file_ending" (".nii.gz"), else ""
  std::vector<CaseEntry> training;         ///< cases with labels (all cases for cremi/glob), by id
  std::vector<CaseEntry> test;             ///< unlabeled test images the dataset lists, by id
  /// Training case ids in the order the source lists them (msd: dataset.json's "training" list);
  /// empty for layouts found by scanning folders, whose order is the sorted one.
  std::vector<std::string> listed;

  /// Declared label values (keys of `labels`), ascending.
  std::vector<int64_t> label_values() const;
  /// The training cases as io::CaseFiles (for io::check_cases).
  std::vector<io::CaseFiles> case_files() const;
  /// The training cases with these ids, in the order given; throws naming an unknown id.
  std::vector<CaseEntry> select(const std::vector<std::string>& ids) const;
  /// Ids of the training cases, sorted.
  std::vector<std::string> ids() const;
  /// Ids of the training cases in listing order (`listed`), or sorted when the layout has none.
  std::vector<std::string> listed_ids() const;
};

struct ManifestOptions {
  /// Allow files outside the dataset root (`../x.nii.gz`, absolute paths elsewhere).
  bool allow_outside_root = false;
  /// "glob" format: pattern relative to the root; `*` and `?` stay within a path component,
  /// `**` spans folders ("**/*.nii.gz" = every .nii.gz below the root).
  std::string pattern = "**/*.nii.gz";
  /// Check that every listed file exists (all missing files are reported in one error).
  bool require_files = true;
};

/// `root / rel` normalised lexically; throws (naming `what`) when it leaves `root` and
/// !allow_outside_root. Symbolic links are not followed (a dataset may link to its data).
std::filesystem::path resolve_in_root(const std::filesystem::path& root, const std::string& rel,
                                      bool allow_outside_root, const std::string& what);

/// Whether `path` (relative, '/'-separated) matches `pattern` (`*`, `?`, `**`).
bool glob_match(const std::string& pattern, const std::string& path);

Manifest load_msd(const std::filesystem::path& root, const ManifestOptions& options = {});
Manifest load_nnunet(const std::filesystem::path& root, const ManifestOptions& options = {});
Manifest load_cremi(const std::filesystem::path& root_or_list, const ManifestOptions& options = {});
Manifest load_glob(const std::filesystem::path& root, const ManifestOptions& options = {});

/// Dispatches on `format` ("msd", "nnunet", "cremi", "glob"; ConfigError listing them otherwise).
Manifest load_manifest(config::DataFormat format, const std::filesystem::path& root,
                       const ManifestOptions& options = {});
/// As above, `format` spelled as in data.format (throws ConfigError for an unknown one).
Manifest load_manifest(const std::string& format, const std::filesystem::path& root,
                       const ManifestOptions& options = {});
/// From the config: data.format, data.root, data.pattern, data.allow_outside_root.
Manifest load_manifest(const config::DataConfig& cfg);

/// Reads a case's image: each channel file (read_volume) concatenated along C; the channel
/// files must share one voxel grid (io::check_same_geometry), else the error names both.
io::Volume read_case_image(const CaseEntry& c, const io::ReadOptions& options = {});
/// Reads a case's label (3D required); nullopt for unlabeled cases.
std::optional<io::Volume> read_case_label(const CaseEntry& c, const io::ReadOptions& options = {});

/// Runs io::check_cases over the training cases with the manifest's declared labels (CREMI
/// instance ids are not checked against a list). Returns every problem.
std::vector<io::Problem> check_manifest(const Manifest& m, io::DatasetCheckOptions options = {});

}  // namespace gtgm::data
