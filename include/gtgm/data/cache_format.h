#pragma once
/// The preprocessing cache's array file (`.gvol`): one preprocessed image or label array plus
/// everything needed to map it back to the file it came from. Written once by `gtgm preprocess`,
/// read by memory mapping (raw payloads are used in place, without a copy).
///
/// Layout (all integers and doubles little-endian):
///   0   char[8]  magic "GTGMVOL\x1a"
///   8   u32      format version (kCacheFormatVersion)
///   12  u32      header length in bytes (from offset 0, without the checksum)
///   16  ...      fields of CacheHeader (see write_cache_array), then a u64 FNV-1a checksum of the
///                header bytes before it
///   payload at a 4096-byte aligned offset: C*D*H*W elements in C order ([C, D, H, W]), raw or one
///   zstd frame.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "gtgm/config/data_config.h"
#include "gtgm/io/volume.h"

namespace gtgm::data {

inline constexpr uint32_t kCacheFormatVersion = 1;

/// A voxel-index affine map in tensor axis order (d, h, w): out = M [d, h, w, 1]^T, M row-major
/// 3x4. Indices are continuous (voxel centres at integers).
struct IndexTransform {
  std::array<double, 12> m{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};

  /// Maps one (d, h, w) index.
  std::array<double, 3> apply(const std::array<double, 3>& dhw) const;
  /// The map "this, then `next`": next.apply(this.apply(x)).
  IndexTransform then(const IndexTransform& next) const;
  /// The inverse map (throws when the linear part is singular).
  IndexTransform inverse() const;
  /// out = in * scale + offset per axis.
  static IndexTransform scale_offset(const std::array<double, 3>& scale, const std::array<double, 3>& offset);
};

/// Element type stored in a cache array.
enum class CacheDType : uint8_t { Float32 = 1, Float16 = 2, UInt8 = 3, Int16 = 4, Int32 = 5 };
/// Payload encoding.
enum class CacheCompression : uint8_t { None = 0, Zstd = 1 };

/// "float32", "float16", "uint8", "int16", "int32".
std::string cache_dtype_name(CacheDType t);
/// Parses a dtype name; throws naming the valid ones.
CacheDType parse_cache_dtype(const std::string& name);
/// Parses "none" / "zstd"; throws naming the valid ones (and when zstd was not built in).
CacheCompression parse_cache_compression(const std::string& name);
/// The cache compression of data.preprocess.compression (ConfigError for zstd without libzstd).
CacheCompression cache_compression(config::Compression compression);
/// Whether this build can write and read zstd payloads.
bool zstd_available();
/// torch dtype of a cache dtype.
torch::ScalarType cache_dtype_to_torch(CacheDType t);

/// Everything in a `.gvol` header besides magic/version/checksum.
struct CacheHeader {
  CacheDType dtype = CacheDType::Float32;
  CacheCompression compression = CacheCompression::None;
  std::array<int64_t, 4> shape{0, 0, 0, 0};      ///< [C, D, H, W] of the cached array
  io::Geometry geometry;                         ///< physical geometry of the cached array
  std::array<int64_t, 3> source_shape{0, 0, 0};  ///< (D, H, W) of the original file
  io::Geometry source_geometry;                  ///< geometry of the original file
  IndexTransform to_source;                      ///< cached voxel (d, h, w) -> source voxel (d, h, w)
  int64_t payload_bytes = 0;                     ///< stored payload size (compressed size for zstd)
};

/// Writes `data` [C, D, H, W] (any numeric dtype; converted to header.dtype, values that do not
/// fit the integer dtypes are an error) atomically to `path`. `header.shape` and
/// `header.payload_bytes` are filled in from `data`.
void write_cache_array(const std::filesystem::path& path, const torch::Tensor& data, CacheHeader header,
                       int zstd_level = 3);

/// Reads and validates only the header of a `.gvol` file.
CacheHeader read_cache_header(const std::filesystem::path& path);

/// A `.gvol` file opened read-only by mmap. Copies share the mapping; tensors returned by
/// tensor() keep it alive.
class CachedArray {
 public:
  CachedArray() = default;
  /// Opens and validates `path` (magic, version, checksum, file size); zstd payloads are
  /// decompressed into memory once here.
  static CachedArray open(const std::filesystem::path& path);

  const CacheHeader& header() const { return *header_; }
  const std::filesystem::path& path() const { return *path_; }
  /// [C, D, H, W] CPU tensor of the stored dtype, zero-copy over the mapping for raw payloads.
  /// Read-only: writing into it is undefined.
  torch::Tensor tensor() const { return tensor_; }
  bool valid() const { return header_ != nullptr; }

 private:
  std::shared_ptr<const CacheHeader> header_;
  std::shared_ptr<const std::filesystem::path> path_;
  torch::Tensor tensor_;
};

}  // namespace gtgm::data
