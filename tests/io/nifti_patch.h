#pragma once
// Test helpers that damage NIfTI headers on purpose: read a .nii/.nii.gz, change header bytes,
// write it back with the same compression. Offsets are the NIfTI-1 header's (348 bytes).
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include "gtgm/core/error.h"

namespace gtgm::test {

namespace nifti1 {
constexpr size_t kPixdim = 76;      ///< float pixdim[8]
constexpr size_t kQformCode = 252;  ///< int16
constexpr size_t kSformCode = 254;  ///< int16
constexpr size_t kQuaternB = 256;   ///< float quatern_b, c, d, qoffset_x, y, z
constexpr size_t kSrowX = 280;      ///< float srow_x[4], srow_y[4], srow_z[4]
}  // namespace nifti1

inline bool is_gz(const std::filesystem::path& p) { return p.extension() == ".gz"; }

/// The uncompressed bytes of a .nii or .nii.gz file.
inline std::string read_nifti_bytes(const std::filesystem::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  GTGM_CHECK(f != nullptr, "cannot open {}", path.string());
  std::string out;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

/// Writes `bytes` to `path`, gzip-compressed when it ends in .gz.
inline void write_nifti_bytes(const std::filesystem::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), is_gz(path) ? "wb6" : "wbT");
  GTGM_CHECK(f != nullptr, "cannot create {}", path.string());
  GTGM_CHECK(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()),
             "cannot write {}", path.string());
  gzclose(f);
}

/// Copies `from` to `to` with one value of type T stored at byte `offset` of the header.
template <class T>
void patch_nifti(const std::filesystem::path& from, const std::filesystem::path& to, size_t offset, T value) {
  std::string b = read_nifti_bytes(from);
  std::memcpy(&b[offset], &value, sizeof(T));
  write_nifti_bytes(to, b);
}

/// A valid little-endian single-file NIfTI-2 (540-byte header) of uint8 voxels [d, h, w], 1 mm,
/// qform and sform codes 1 with identity axes.
inline void write_nifti2(const std::filesystem::path& path, int64_t d, int64_t h, int64_t w) {
  std::string b(544, '\0');  // header + 4-byte extension flag
  const auto put = [&](size_t off, auto v) { std::memcpy(&b[off], &v, sizeof(v)); };
  put(0, int32_t{540});
  std::memcpy(&b[4], "n+2\0\r\n\032\n", 8);
  put(12, int16_t{2});  // uint8
  put(14, int16_t{8});
  const int64_t dim[8] = {3, w, h, d, 1, 1, 1, 1};
  for (int i = 0; i < 8; ++i) put(16 + 8 * static_cast<size_t>(i), dim[i]);
  const double pixdim[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  for (int i = 0; i < 8; ++i) put(104 + 8 * static_cast<size_t>(i), pixdim[i]);
  put(168, int64_t{544});  // vox_offset
  put(176, 1.0);           // scl_slope
  put(344, int32_t{1});    // qform_code
  put(348, int32_t{1});    // sform_code
  put(400, 1.0);           // srow_x[0]
  put(432 + 8, 1.0);       // srow_y[1]
  put(464 + 16, 1.0);      // srow_z[2]
  put(500, int32_t{2});    // xyzt_units: mm
  b.append(static_cast<size_t>(d * h * w), '\x07');
  write_nifti_bytes(path, b);
}

}  // namespace gtgm::test
