#include "payload_check.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::io::detail {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r"));
  s.erase(s.find_last_not_of(" \t\r") + 1);
  return s;
}

int64_t element_bytes(const VolumeHeader& h) {
  static const std::map<std::string, int64_t> sizes = {{"uint8", 1},   {"int8", 1},   {"uint16", 2}, {"int16", 2},
                                                       {"uint32", 4},  {"int32", 4},  {"uint64", 8}, {"int64", 8},
                                                       {"float32", 4}, {"float64", 8}};
  const auto it = sizes.find(h.stored_dtype);
  return it == sizes.end() ? 0 : it->second * h.channels * h.shape[0] * h.shape[1] * h.shape[2];
}

struct GzCloser {
  void operator()(gzFile f) const {
    if (f != nullptr) gzclose(f);
  }
};

template <class T>
T load(const unsigned char* p, bool swap) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if (swap) {
    auto* b = reinterpret_cast<unsigned char*>(&v);
    std::reverse(b, b + sizeof(T));
  }
  return v;
}

// NIfTI: declared end of the voxel data (vox_offset + voxels * bitpix / 8) from the header
// itself (ITK reports the scaled type, not the stored one); -1 when not a single-file NIfTI.
int64_t nifti_declared_end(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) return -1;
  unsigned char h[540] = {};
  const int got = gzread(f.get(), h, sizeof(h));
  if (got < 348) return -1;
  const auto size_le = load<int32_t>(h, false);
  const auto size_be = load<int32_t>(h, true);
  const bool swap = size_le != 348 && size_le != 540;
  const int32_t sizeof_hdr = swap ? size_be : size_le;
  if (sizeof_hdr == 348) {
    if (std::memcmp(h + 344, "n+1", 4) != 0) return -1;
    int64_t n = 1;
    const int16_t ndim = load<int16_t>(h + 40, swap);
    if (ndim < 1 || ndim > 7) return -1;
    for (int i = 1; i <= ndim; ++i) n *= std::max<int16_t>(1, load<int16_t>(h + 40 + 2 * i, swap));
    const int16_t bitpix = load<int16_t>(h + 72, swap);
    const auto vox_offset = static_cast<int64_t>(load<float>(h + 108, swap));
    return vox_offset + n * bitpix / 8;
  }
  if (sizeof_hdr == 540 && got >= 540) {
    if (std::memcmp(h + 4, "n+2", 4) != 0) return -1;
    int64_t n = 1;
    const int64_t ndim = load<int64_t>(h + 16, swap);
    if (ndim < 1 || ndim > 7) return -1;
    for (int i = 1; i <= ndim; ++i) n *= std::max<int64_t>(1, load<int64_t>(h + 16 + 8 * i, swap));
    const int16_t bitpix = load<int16_t>(h + 14, swap);
    return load<int64_t>(h + 168, swap) + n * bitpix / 8;
  }
  return -1;
}

// Spacing above this (in the file's units: mm, or um/nm for microscopy) is a corrupt header, not
// a scanner: 1e5 mm is 100 m. ITK divides by it and its matrix code aborts on what follows.
constexpr double kMaxPlausibleSpacing = 1e5;

std::string num_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  return fmt::format("{}", v);
}

// The geometry fields of a NIfTI-1 or -2 header, as doubles (NIfTI-1 stores floats).
struct NiftiGeometryFields {
  int version = 0;  // 1, 2, or 0 when not a NIfTI header
  int64_t ndim = 0;
  double pixdim[8] = {};
  int qform_code = 0, sform_code = 0;
  double quatern[3] = {}, qoffset[3] = {};
  double srow[3][4] = {};
};

NiftiGeometryFields nifti_geometry_fields(const unsigned char* h, int got) {
  NiftiGeometryFields g;
  if (got < 348) return g;
  const auto size_le = load<int32_t>(h, false);
  const bool swap = size_le != 348 && size_le != 540;
  const int32_t sizeof_hdr = load<int32_t>(h, swap);
  if (sizeof_hdr == 348) {
    g.version = 1;
    g.ndim = load<int16_t>(h + 40, swap);
    for (int i = 0; i < 8; ++i) g.pixdim[i] = load<float>(h + 76 + 4 * i, swap);
    g.qform_code = load<int16_t>(h + 252, swap);
    g.sform_code = load<int16_t>(h + 254, swap);
    for (int i = 0; i < 3; ++i) g.quatern[i] = load<float>(h + 256 + 4 * i, swap);
    for (int i = 0; i < 3; ++i) g.qoffset[i] = load<float>(h + 268 + 4 * i, swap);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) g.srow[r][c] = load<float>(h + 280 + 16 * r + 4 * c, swap);
  } else if (sizeof_hdr == 540 && got >= 540) {
    g.version = 2;
    g.ndim = load<int64_t>(h + 16, swap);
    for (int i = 0; i < 8; ++i) g.pixdim[i] = load<double>(h + 104 + 8 * i, swap);
    g.qform_code = load<int32_t>(h + 344, swap);
    g.sform_code = load<int32_t>(h + 348, swap);
    for (int i = 0; i < 3; ++i) g.quatern[i] = load<double>(h + 352 + 8 * i, swap);
    for (int i = 0; i < 3; ++i) g.qoffset[i] = load<double>(h + 376 + 8 * i, swap);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) g.srow[r][c] = load<double>(h + 400 + 32 * r + 8 * c, swap);
  }
  return g;
}

}  // namespace

int nifti_header_version(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) return 0;
  unsigned char h[540] = {};
  const int got = gzread(f.get(), h, sizeof(h));
  return nifti_geometry_fields(h, got).version;
}

void check_nifti_geometry(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) return;  // the reader reports the open failure
  unsigned char h[540] = {};
  const int got = gzread(f.get(), h, sizeof(h));
  const NiftiGeometryFields g = nifti_geometry_fields(h, got);
  if (g.version == 0) return;
  const char* what = g.version == 1 ? "NIfTI-1" : "NIfTI-2";
  // Spacing: pixdim[1..3] of the spatial axes the file has; pixdim[0] is qfac (sign only).
  const int64_t spatial = std::clamp<int64_t>(g.ndim, 1, 3);
  for (int64_t i = 1; i <= spatial; ++i) {
    const double v = g.pixdim[i];
    GTGM_CHECK(std::isfinite(v), "{}: {} header field pixdim[{}] is {}: voxel spacing must be a finite number > 0",
               path, what, i, num_text(v));
    GTGM_CHECK(v != 0, "{}: {} header field pixdim[{}] = 0: voxel spacing must be > 0", path, what, i);
    GTGM_CHECK(std::abs(v) <= kMaxPlausibleSpacing,
               "{}: {} header field pixdim[{}] = {} mm is not a plausible spacing (expected at most {})", path, what, i,
               num_text(std::abs(v)), kMaxPlausibleSpacing);
  }
  if (g.qform_code > 0) {
    static const char* kQ[] = {"quatern_b", "quatern_c", "quatern_d"};
    static const char* kO[] = {"qoffset_x", "qoffset_y", "qoffset_z"};
    for (int i = 0; i < 3; ++i) {
      GTGM_CHECK(std::isfinite(g.quatern[i]), "{}: {} header field {} is {} (qform_code {}): expected a finite number",
                 path, what, kQ[i], num_text(g.quatern[i]), g.qform_code);
      GTGM_CHECK(std::isfinite(g.qoffset[i]), "{}: {} header field {} is {} (qform_code {}): expected a finite number",
                 path, what, kO[i], num_text(g.qoffset[i]), g.qform_code);
    }
  }
  if (g.sform_code > 0) {
    static const char* kRow[] = {"srow_x", "srow_y", "srow_z"};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 4; ++c) {
        const double v = g.srow[r][c];
        GTGM_CHECK(std::isfinite(v), "{}: {} header field {} has {} ({}[{}], sform_code {}): expected finite numbers",
                   path, what, kRow[r], num_text(v), kRow[r], c, g.sform_code);
      }
    }
    // Each column of the sform's 3x3 part is an axis scaled by its spacing.
    for (int64_t c = 0; c < spatial; ++c) {
      double n2 = 0;
      for (int r = 0; r < 3; ++r) n2 += g.srow[r][c] * g.srow[r][c];
      const double n = std::sqrt(n2);
      GTGM_CHECK(n > 0, "{}: {} header sform column {} (srow_x/y/z[{}]) is zero: voxel spacing must be > 0", path, what,
                 c, c);
      GTGM_CHECK(n <= kMaxPlausibleSpacing,
                 "{}: {} header sform column {} has length {} mm, not a plausible spacing (expected at most {})", path,
                 what, c, num_text(n), kMaxPlausibleSpacing);
    }
  }
}

bool is_plain_nifti1(const std::string& path) {
  const std::string l = core::lower(path);
  if (!core::ends_with(l, ".nii") && !core::ends_with(l, ".nii.gz")) return false;
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) return false;
  unsigned char h[348] = {};
  if (gzread(f.get(), h, sizeof(h)) != 348) return false;
  const bool swap = load<int32_t>(h, false) != 348;
  if (load<int32_t>(h, swap) != 348 || std::memcmp(h + 344, "n+1", 4) != 0) return false;
  const int16_t ndim = load<int16_t>(h + 40, swap);
  for (int i = 5; i <= ndim && i <= 7; ++i)
    if (load<int16_t>(h + 40 + 2 * i, swap) != 1) return false;
  return ndim >= 1 && ndim <= 7;
}

namespace {

void check_nifti(const std::string& path) {
  const int64_t expected = nifti_declared_end(path);
  if (expected < 0) return;
  const auto file_size = static_cast<int64_t>(fs::file_size(path));
  if (!core::ends_with(core::lower(path), ".gz")) {
    GTGM_CHECK(file_size >= expected,
               "{}: truncated: the header declares {} bytes (header + voxels), the file has "
               "{}",
               path, expected, file_size);
    return;
  }
  // gzip's trailer holds the uncompressed size mod 2^32: a cheap test that is only followed by a
  // full decompression when it disagrees (truncation, corruption, or a multi-member stream).
  unsigned char trailer[4] = {};
  {
    std::ifstream in(path, std::ios::binary);
    in.seekg(-4, std::ios::end);
    in.read(reinterpret_cast<char*>(trailer), 4);
  }
  const uint32_t isize = load<uint32_t>(trailer, false);
  if (isize == static_cast<uint32_t>(expected & 0xFFFFFFFF)) return;
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  std::vector<char> buf(1 << 20);
  int64_t total = 0;
  for (;;) {
    const int n = gzread(f.get(), buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(f.get(), &err);
      GTGM_THROW("{}: corrupt compressed data after {} of {} bytes: {} (the file is truncated or damaged)", path, total,
                 expected, msg);
    }
    if (n == 0) break;
    total += n;
  }
  GTGM_CHECK(total >= expected,
             "{}: truncated: the header declares {} bytes (header + voxels), the compressed "
             "stream holds {}",
             path, expected, total);
}

// Key/value header lines of a MetaImage (" = ") or NRRD (": " / ":=") file up to the data.
struct TextHeader {
  std::map<std::string, std::string> keys;  // lower-case keys
  int64_t data_offset = -1;                 // attached data start
};

TextHeader read_text_header(const std::string& path, bool nrrd) {
  TextHeader th;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  int64_t pos = 0;
  for (int lines = 0; lines < 500 && std::getline(in, line); ++lines) {
    pos += static_cast<int64_t>(line.size()) + 1;
    const std::string t = trim(line);
    if (nrrd && t.empty()) {
      th.data_offset = pos;
      break;
    }
    if (t.empty() || t[0] == '#') continue;
    const auto sep = t.find(nrrd ? ":" : "=");
    if (sep == std::string::npos) continue;
    std::string key = core::lower(trim(t.substr(0, sep)));
    std::string value = trim(t.substr(sep + 1));
    if (nrrd && !value.empty() && value[0] == '=') value = trim(value.substr(1));  // "key:=value"
    th.keys[key] = value;
    if (!nrrd && key == "elementdatafile") {
      th.data_offset = pos;
      break;
    }
  }
  return th;
}

void check_size(const std::string& path, const fs::path& data_file, int64_t offset, int64_t payload) {
  GTGM_CHECK(fs::exists(data_file), "{}: its data file {} does not exist", path, data_file.string());
  const auto size = static_cast<int64_t>(fs::file_size(data_file));
  GTGM_CHECK(size - offset >= payload, "{}: truncated: the header declares {} bytes of voxel data, {} holds {}", path,
             payload, data_file.string(), std::max<int64_t>(0, size - offset));
}

void check_meta(const std::string& path, const VolumeHeader& h) {
  const auto th = read_text_header(path, false);
  const auto get = [&](const char* k) {
    auto it = th.keys.find(k);
    return it == th.keys.end() ? std::string() : it->second;
  };
  if (core::lower(get("compresseddata")) == "true" || !get("headersize").empty()) return;
  const std::string file = get("elementdatafile");
  const int64_t payload = element_bytes(h);
  if (file.empty() || payload == 0) return;
  if (core::lower(file) == "local") {
    check_size(path, path, th.data_offset, payload);
  } else if (file.find(' ') == std::string::npos && core::lower(file) != "list") {
    check_size(path, fs::path(path).parent_path() / file, 0, payload);
  }
}

void check_nrrd(const std::string& path, const VolumeHeader& h) {
  const auto th = read_text_header(path, true);
  const auto get = [&](const char* k) {
    auto it = th.keys.find(k);
    return it == th.keys.end() ? std::string() : it->second;
  };
  if (core::lower(get("encoding")) != "raw" || !get("byte skip").empty() || !get("byteskip").empty() ||
      !get("line skip").empty() || !get("lineskip").empty())
    return;
  const int64_t payload = element_bytes(h);
  if (payload == 0) return;
  std::string file = get("data file");
  if (file.empty()) file = get("datafile");
  if (file.empty()) {
    if (th.data_offset >= 0) check_size(path, path, th.data_offset, payload);
  } else if (file.find(' ') == std::string::npos && core::lower(file) != "list") {
    check_size(path, fs::path(path).parent_path() / file, 0, payload);
  }
}

}  // namespace

void check_payload_complete(const std::string& path, const VolumeHeader& header) {
  const std::string l = core::lower(path);
  if (core::ends_with(l, ".nii") || core::ends_with(l, ".nii.gz"))
    check_nifti(path);
  else if (core::ends_with(l, ".mha") || core::ends_with(l, ".mhd"))
    check_meta(path, header);
  else if (core::ends_with(l, ".nrrd") || core::ends_with(l, ".nhdr"))
    check_nrrd(path, header);
}

}  // namespace gtgm::io::detail
