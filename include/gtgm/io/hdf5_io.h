#pragma once
/// HDF5 through the C API: plain datasets by path and the CREMI layout for EM volumes.
///
/// CREMI layout (https://cremi.org/data/): `volumes/raw` (uint8 [z, y, x]) and
/// `volumes/labels/neuron_ids` (uint64 [z, y, x]), each with a `resolution` attribute in nm in
/// (z, y, x) order (e.g. [40, 4, 4]) and optionally `offset` (nm, (z, y, x)). In a Volume these
/// become spacing/origin in (x, y, z) order (see volume.h); direction is identity.
///
/// Dtypes: stored integer/float types map to tensors as in volume_io.h (uint16 -> int32,
/// uint32/uint64 -> int64; uint64 values >= 2^63 are refused). All HDF5 calls are serialised by one
/// process-wide mutex (Debian's serial libhdf5 is not thread-safe).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gtgm/io/volume_io.h"

namespace gtgm::io {

/// Names of all datasets in `file` ("volumes/raw", ...), sorted.
std::vector<std::string> list_hdf5_datasets(const std::filesystem::path& file);

/// Shape and stored dtype ("uint8", "uint64", ...) of a dataset, without reading it.
struct Hdf5DatasetInfo {
  std::vector<int64_t> shape;
  std::string stored_dtype;
};
Hdf5DatasetInfo hdf5_dataset_info(const std::filesystem::path& file, const std::string& dataset);

/// Reads a whole dataset as a tensor of its shape. Refuses (before allocating) datasets larger
/// than `max_bytes`. Errors name the file and dataset and list the datasets present.
torch::Tensor read_hdf5_dataset(const std::filesystem::path& file, const std::string& dataset,
                                int64_t max_bytes = kDefaultMaxVolumeBytes);

struct Hdf5WriteOptions {
  /// Stored type ("uint8", "uint16", "int32", "uint64", "float32", ...); "" = the tensor's dtype.
  std::string dtype;
  int gzip_level = 4;           ///< 0 = no compression
  std::vector<int64_t> chunks;  ///< chunk shape; empty = whole dataset capped at 64 per axis
};

/// Writes `tensor` as dataset `dataset` (groups created as needed; an existing dataset of that
/// name is replaced). Creates the file when absent, else opens it read-write.
void write_hdf5_dataset(const std::filesystem::path& file, const std::string& dataset, const torch::Tensor& tensor,
                        const Hdf5WriteOptions& options = {});

/// A float64 array attribute of an object ("/" for the file, or a dataset/group path).
std::optional<std::vector<double>> read_hdf5_attribute(const std::filesystem::path& file, const std::string& object,
                                                       const std::string& name);
/// Writes (or replaces) a float64 array attribute.
void write_hdf5_attribute(const std::filesystem::path& file, const std::string& object, const std::string& name,
                          const std::vector<double>& values);

/// Splits "file.h5:volumes/raw" into {file, dataset}; the dataset is "" when absent. Returns
/// nullopt when the path does not name an HDF5 file (.h5, .hdf, .hdf5).
std::optional<std::pair<std::filesystem::path, std::string>> split_hdf5_path(const std::string& path);

/// The dataset read_volume picks in `file` when none is named: "volumes/raw" when present, else
/// the only dataset; throws listing them otherwise.
std::string default_hdf5_dataset(const std::filesystem::path& file);

/// Header of a dataset as a volume (2D [y, x], 3D [z, y, x] or 4D [c, z, y, x]).
VolumeHeader read_hdf5_volume_header(const std::filesystem::path& file, const std::string& dataset,
                                     const ReadOptions& options = {});
/// Reads a dataset as a Volume (geometry from `resolution` / `offset` attributes).
Volume read_hdf5_volume(const std::filesystem::path& file, const std::string& dataset, const ReadOptions& options = {});
/// Writes a Volume as a dataset with `resolution` and `offset` attributes ((z, y, x) order). C == 1
/// is written as [z, y, x], C > 1 as [c, z, y, x]. Direction must be identity (HDF5 has none).
void write_hdf5_volume(const std::filesystem::path& file, const std::string& dataset, const Volume& volume,
                       const Hdf5WriteOptions& options = {});

/// One CREMI volume: raw EM (uint8) and optional neuron ids (int64 in memory, uint64 on disk).
struct CremiVolume {
  Volume raw;
  std::optional<Volume> neuron_ids;
};

/// Reads `volumes/raw` and, when `with_labels` and present, `volumes/labels/neuron_ids`.
CremiVolume read_cremi(const std::filesystem::path& file, bool with_labels = true);

/// Writes a CREMI file (atomically: temp name + rename): raw as uint8, neuron ids as uint64, each
/// with the `resolution` attribute. raw and neuron_ids must have the same shape and spacing.
void write_cremi(const std::filesystem::path& file, const CremiVolume& volume);

}  // namespace gtgm::io
