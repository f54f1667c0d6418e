#include "gtgm/io/nifti.h"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <string>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "payload_check.h"

namespace fs = std::filesystem;

namespace gtgm::io {
namespace {

#pragma pack(push, 1)
struct Nifti1Header {
  int32_t sizeof_hdr;
  char data_type[10];
  char db_name[18];
  int32_t extents;
  int16_t session_error;
  char regular;
  char dim_info;
  int16_t dim[8];
  float intent_p1, intent_p2, intent_p3;
  int16_t intent_code, datatype, bitpix, slice_start;
  float pixdim[8];
  float vox_offset, scl_slope, scl_inter;
  int16_t slice_end;
  char slice_code, xyzt_units;
  float cal_max, cal_min, slice_duration, toffset;
  int32_t glmax, glmin;
  char descrip[80];
  char aux_file[24];
  int16_t qform_code, sform_code;
  float quatern_b, quatern_c, quatern_d, qoffset_x, qoffset_y, qoffset_z;
  float srow_x[4], srow_y[4], srow_z[4];
  char intent_name[16];
  char magic[4];
};
#pragma pack(pop)
static_assert(sizeof(Nifti1Header) == 348, "NIfTI-1 header must be 348 bytes");

struct TypeInfo {
  int16_t code;
  int bytes;
  const char* name;
};
constexpr TypeInfo kTypes[] = {{2, 1, "uint8"},   {4, 2, "int16"},   {8, 4, "int32"},    {16, 4, "float32"},
                               {64, 8, "float64"}, {256, 1, "int8"},  {512, 2, "uint16"}, {768, 4, "uint32"},
                               {1024, 8, "int64"}, {1280, 8, "uint64"}};

const TypeInfo* find_type(int16_t code) {
  for (const auto& t : kTypes) {
    if (t.code == code) return &t;
  }
  return nullptr;
}

template <class T>
void swap_bytes(T& v) {
  auto* p = reinterpret_cast<unsigned char*>(&v);
  for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(p[i], p[sizeof(T) - 1 - i]);
}

void swap_header(Nifti1Header& h) {
  swap_bytes(h.sizeof_hdr);
  swap_bytes(h.extents);
  swap_bytes(h.session_error);
  for (auto& d : h.dim) swap_bytes(d);
  swap_bytes(h.intent_p1); swap_bytes(h.intent_p2); swap_bytes(h.intent_p3);
  swap_bytes(h.intent_code); swap_bytes(h.datatype); swap_bytes(h.bitpix); swap_bytes(h.slice_start);
  for (auto& p : h.pixdim) swap_bytes(p);
  swap_bytes(h.vox_offset); swap_bytes(h.scl_slope); swap_bytes(h.scl_inter); swap_bytes(h.slice_end);
  swap_bytes(h.cal_max); swap_bytes(h.cal_min); swap_bytes(h.slice_duration); swap_bytes(h.toffset);
  swap_bytes(h.glmax); swap_bytes(h.glmin);
  swap_bytes(h.qform_code); swap_bytes(h.sform_code);
  swap_bytes(h.quatern_b); swap_bytes(h.quatern_c); swap_bytes(h.quatern_d);
  swap_bytes(h.qoffset_x); swap_bytes(h.qoffset_y); swap_bytes(h.qoffset_z);
  for (int i = 0; i < 4; ++i) { swap_bytes(h.srow_x[i]); swap_bytes(h.srow_y[i]); swap_bytes(h.srow_z[i]); }
}

// RAS affine columns (3x3, row-major) + origin -> Geometry in LPS.
Geometry geometry_from_ras(const double rot_scaled[9], const double origin_ras[3]) {
  Geometry g;
  for (int c = 0; c < 3; ++c) {
    const double n = std::sqrt(rot_scaled[c] * rot_scaled[c] + rot_scaled[3 + c] * rot_scaled[3 + c] +
                               rot_scaled[6 + c] * rot_scaled[6 + c]);
    g.spacing[c] = n;
    for (int r = 0; r < 3; ++r) {
      const double flip = r < 2 ? -1.0 : 1.0;  // RAS -> LPS
      g.direction[r * 3 + c] = n > 0 ? flip * rot_scaled[r * 3 + c] / n : (r == c ? 1.0 : 0.0);
    }
  }
  g.origin = {-origin_ras[0], -origin_ras[1], origin_ras[2]};
  return g;
}

bool orthonormal(const std::array<double, 9>& d, double tol) {
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      double dot = 0;
      for (int r = 0; r < 3; ++r) dot += d[r * 3 + a] * d[r * 3 + b];
      if (std::abs(dot - (a == b ? 1.0 : 0.0)) > tol) return false;
    }
  }
  return true;
}

Geometry geometry_from_header(const Nifti1Header& h, const std::string& path) {
  const double qfac = h.pixdim[0] < 0 ? -1.0 : 1.0;
  if (h.sform_code > 0) {
    const double rot[9] = {h.srow_x[0], h.srow_x[1], h.srow_x[2], h.srow_y[0], h.srow_y[1],
                           h.srow_y[2], h.srow_z[0], h.srow_z[1], h.srow_z[2]};
    const double org[3] = {h.srow_x[3], h.srow_y[3], h.srow_z[3]};
    Geometry g = geometry_from_ras(rot, org);
    if (orthonormal(g.direction, 1e-4) || h.qform_code <= 0) {
      GTGM_CHECK(orthonormal(g.direction, 1e-3),
                 "{}: the sform's direction is not orthonormal (sheared affine); expected a rotation", path);
      return g;
    }
    // A sheared sform with a valid qform: use the qform, as ITK does.
  }
  if (h.qform_code > 0) {
    double b = h.quatern_b, c = h.quatern_c, d = h.quatern_d;
    double a = 1.0 - (b * b + c * c + d * d);
    if (a < 1e-7) {
      a = 1.0 / std::sqrt(b * b + c * c + d * d);
      b *= a; c *= a; d *= a;
      a = 0.0;
    } else {
      a = std::sqrt(a);
    }
    const double R[9] = {a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c),
                         2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b),
                         2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b};
    const double s[3] = {std::abs(h.pixdim[1]) > 0 ? std::abs(h.pixdim[1]) : 1.0,
                         std::abs(h.pixdim[2]) > 0 ? std::abs(h.pixdim[2]) : 1.0,
                         std::abs(h.pixdim[3]) > 0 ? std::abs(h.pixdim[3]) * qfac : qfac};
    double rot[9];
    for (int r = 0; r < 3; ++r) {
      for (int col = 0; col < 3; ++col) rot[r * 3 + col] = R[r * 3 + col] * s[col];
    }
    const double org[3] = {h.qoffset_x, h.qoffset_y, h.qoffset_z};
    return geometry_from_ras(rot, org);
  }
  // Neither code set (old Analyze-style files): spacing only, RAS axes.
  const double rot[9] = {std::abs(h.pixdim[1]) > 0 ? std::abs(h.pixdim[1]) : 1.0, 0, 0, 0,
                         std::abs(h.pixdim[2]) > 0 ? std::abs(h.pixdim[2]) : 1.0, 0, 0, 0,
                         std::abs(h.pixdim[3]) > 0 ? std::abs(h.pixdim[3]) : 1.0};
  const double org[3] = {0, 0, 0};
  return geometry_from_ras(rot, org);
}

// Reads everything from a (possibly gzip) file handle into `dst`, returns bytes read.
int64_t read_fully(gzFile f, void* dst, int64_t n) {
  int64_t done = 0;
  auto* p = static_cast<char*>(dst);
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - done, 1 << 30));
    const int got = gzread(f, p + done, chunk);
    if (got <= 0) break;
    done += got;
  }
  return done;
}

struct GzCloser {
  void operator()(gzFile f) const {
    if (f != nullptr) gzclose(f);
  }
};

std::string gzip_bytes(const std::string& raw, const std::string& path) {
  z_stream zs{};
  GTGM_CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "{}: deflateInit2 failed",
             path);
  std::string out;
  out.resize(deflateBound(&zs, raw.size()) + 64);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  GTGM_CHECK(rc == Z_STREAM_END, "{}: gzip compression failed (zlib code {})", path, rc);
  out.resize(zs.total_out);
  return out;
}

}  // namespace

bool is_nifti_path(const fs::path& path) {
  const std::string s = path.string();
  auto ends = [&](const char* suf) {
    const size_t n = std::strlen(suf);
    return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
  };
  return ends(".nii") || ends(".nii.gz");
}

Volume read_nifti(const fs::path& path, int64_t max_bytes) {
  const std::string p = path.string();
  GTGM_CHECK(fs::exists(path), "{}: no such file", p);
  detail::check_nifti_geometry(p);
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(p.c_str(), "rb"));
  GTGM_CHECK(f != nullptr, "{}: cannot open: {}", p, std::strerror(errno));
  Nifti1Header h{};
  const int64_t got = read_fully(f.get(), &h, sizeof(h));
  GTGM_CHECK(got == static_cast<int64_t>(sizeof(h)),
             "{}: truncated or not a NIfTI file: expected a 348-byte header, found {} bytes", p, got);
  bool swapped = false;
  if (h.sizeof_hdr != 348) {
    int32_t other = h.sizeof_hdr;
    swap_bytes(other);
    GTGM_CHECK(h.sizeof_hdr != 540 && other != 540,
               "{}: NIfTI-2 is not supported by the built-in reader (NIfTI-1 only); convert the file to NIfTI-1", p);
    GTGM_CHECK(other == 348, "{}: not a NIfTI-1 file (header size field {} instead of 348)", p, h.sizeof_hdr);
    swap_header(h);
    swapped = true;
  }
  GTGM_CHECK(std::memcmp(h.magic, "n+1", 4) == 0,
             "{}: bad NIfTI magic '{:.3s}' (expected 'n+1' single-file NIfTI-1; .hdr/.img pairs need ITK)", p, h.magic);
  const int ndim = h.dim[0];
  GTGM_CHECK(ndim >= 1 && ndim <= 7, "{}: invalid dim[0]={} (expected 1..7)", p, ndim);
  for (int i = 5; i <= ndim; ++i) {
    GTGM_CHECK(h.dim[i] == 1, "{}: {}-D image with dim[{}]={}; gtgm reads 3-D images and 4-D as channels", p, ndim, i,
               h.dim[i]);
  }
  int64_t size[4] = {1, 1, 1, 1};  // x, y, z, t
  for (int i = 1; i <= std::min(ndim, 4); ++i) {
    GTGM_CHECK(h.dim[i] >= 1, "{}: invalid dim[{}]={} (sizes must be >= 1)", p, i, h.dim[i]);
    size[i - 1] = h.dim[i];
  }
  const TypeInfo* type = find_type(h.datatype);
  GTGM_CHECK(type != nullptr, "{}: unsupported NIfTI datatype {} (supported: uint8, int8, int16, uint16, int32, uint32, "
             "int64, uint64, float32, float64)", p, h.datatype);
  const int64_t voxels = size[0] * size[1] * size[2] * size[3];
  const int64_t bytes = voxels * type->bytes;
  GTGM_CHECK(bytes <= max_bytes,
             "{}: declared size {}x{}x{}x{} {} needs {:.1f} GiB, above the limit of {:.1f} GiB; refusing to allocate", p,
             size[0], size[1], size[2], size[3], type->name, bytes / 1073741824.0, max_bytes / 1073741824.0);
  const int64_t offset = static_cast<int64_t>(h.vox_offset);
  GTGM_CHECK(offset >= 348, "{}: vox_offset {} lies inside the header", p, h.vox_offset);
  GTGM_CHECK(gzseek(f.get(), static_cast<z_off_t>(offset), SEEK_SET) == offset, "{}: truncated before vox_offset {}",
             p, offset);

  const torch::ScalarType raw_dtype = [&] {
    switch (h.datatype) {
      case 2: return torch::kByte;
      case 4: case 512: return torch::kShort;
      case 8: case 768: return torch::kInt;
      case 16: return torch::kFloat;
      case 64: return torch::kDouble;
      case 256: return torch::kChar;
      default: return torch::kLong;
    }
  }();
  // [t, z, y, x]: x varies fastest in the file, as in a contiguous tensor.
  torch::Tensor raw = torch::empty({size[3], size[2], size[1], size[0]}, torch::TensorOptions().dtype(raw_dtype));
  const int64_t read = read_fully(f.get(), raw.data_ptr(), bytes);
  int zerr = Z_OK;
  const char* zmsg = gzerror(f.get(), &zerr);
  GTGM_CHECK(zerr == Z_OK || zerr == Z_STREAM_END, "{}: corrupt compressed data: {}", p, zmsg);
  GTGM_CHECK(read == bytes, "{}: truncated: expected {} bytes of voxel data after offset {}, found {}", p, bytes, offset,
             read);
  if (swapped && type->bytes > 1) {
    auto* d = static_cast<unsigned char*>(raw.data_ptr());
    for (int64_t i = 0; i < voxels; ++i) std::reverse(d + i * type->bytes, d + (i + 1) * type->bytes);
  }
  torch::Tensor data = raw;
  if (h.datatype == 512) data = raw.to(torch::kInt).bitwise_and(static_cast<int64_t>(0xFFFF));
  if (h.datatype == 768) data = raw.to(torch::kLong).bitwise_and(static_cast<int64_t>(0xFFFFFFFFLL));
  if (h.datatype == 1280) {
    GTGM_CHECK(raw.lt(0).any().item<bool>() == false, "{}: uint64 voxel values above 2^63 cannot be represented", p);
  }
  const bool scaled = h.scl_slope != 0.0f && std::isfinite(h.scl_slope) && !(h.scl_slope == 1.0f && h.scl_inter == 0.0f);
  if (scaled) data = data.to(torch::kFloat) * h.scl_slope + h.scl_inter;

  Volume vol;
  vol.data = data;
  vol.geometry = geometry_from_header(h, p);
  vol.source = p;
  return vol;
}

void write_nifti(const Volume& vol, const fs::path& path) {
  const std::string p = path.string();
  GTGM_CHECK(vol.data.defined() && vol.data.dim() == 4, "{}: expected a volume tensor [C, D, H, W], got {}", p,
             vol.data.defined() ? vol.data.dim() : 0);
  torch::Tensor data = vol.data.detach().to(torch::kCPU).contiguous();
  if (data.scalar_type() == torch::kBool) data = data.to(torch::kByte);
  int16_t code = 0;
  switch (data.scalar_type()) {
    case torch::kByte: code = 2; break;
    case torch::kChar: code = 256; break;
    case torch::kShort: code = 4; break;
    case torch::kInt: code = 8; break;
    case torch::kLong: code = 1024; break;
    case torch::kFloat: code = 16; break;
    case torch::kDouble: code = 64; break;
    case torch::kHalf: case torch::kBFloat16: data = data.to(torch::kFloat); code = 16; break;
    default: GTGM_THROW("{}: cannot write dtype {} as NIfTI", p, c10::toString(data.scalar_type()));
  }
  const Geometry& g = vol.geometry;
  Nifti1Header h{};
  h.sizeof_hdr = 348;
  h.regular = 'r';
  const int64_t C = data.size(0), D = data.size(1), H = data.size(2), W = data.size(3);
  GTGM_CHECK(std::max({C, D, H, W}) <= 32767, "{}: NIfTI-1 sizes are limited to 32767, got [{}, {}, {}, {}]", p, C, D,
             H, W);
  h.dim[0] = C > 1 ? 4 : 3;
  h.dim[1] = static_cast<int16_t>(W);
  h.dim[2] = static_cast<int16_t>(H);
  h.dim[3] = static_cast<int16_t>(D);
  h.dim[4] = static_cast<int16_t>(C);
  for (int i = 5; i < 8; ++i) h.dim[i] = 1;
  h.datatype = code;
  h.bitpix = static_cast<int16_t>(data.element_size() * 8);
  h.vox_offset = 352;
  h.scl_slope = 1.0f;
  h.xyzt_units = 2 | 8;  // mm, s
  std::memcpy(h.magic, "n+1", 4);
  std::strncpy(h.descrip, "gtgm", sizeof(h.descrip) - 1);

  // LPS direction -> RAS rotation.
  double R[9];
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) R[r * 3 + c] = (r < 2 ? -1.0 : 1.0) * g.direction[r * 3 + c];
  }
  const double ras_origin[3] = {-g.origin[0], -g.origin[1], g.origin[2]};
  h.qform_code = 1;
  h.sform_code = 1;
  float* srow[3] = {h.srow_x, h.srow_y, h.srow_z};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) srow[r][c] = static_cast<float>(R[r * 3 + c] * g.spacing[c]);
    srow[r][3] = static_cast<float>(ras_origin[r]);
  }
  // Quaternion of the rotation (nifti_mat44_to_quatern), with qfac for improper rotations.
  const double det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) +
                     R[2] * (R[3] * R[7] - R[4] * R[6]);
  double qfac = 1.0;
  if (det < 0) {
    qfac = -1.0;
    R[2] = -R[2]; R[5] = -R[5]; R[8] = -R[8];
  }
  const double r11 = R[0], r12 = R[1], r13 = R[2], r21 = R[3], r22 = R[4], r23 = R[5], r31 = R[6], r32 = R[7], r33 = R[8];
  double a = r11 + r22 + r33 + 1.0, b, c, d;
  if (a > 0.5) {
    a = 0.5 * std::sqrt(a);
    b = 0.25 * (r32 - r23) / a;
    c = 0.25 * (r13 - r31) / a;
    d = 0.25 * (r21 - r12) / a;
  } else {
    const double xd = 1.0 + r11 - (r22 + r33), yd = 1.0 + r22 - (r11 + r33), zd = 1.0 + r33 - (r11 + r22);
    if (xd > 1.0) {
      b = 0.5 * std::sqrt(xd); c = 0.25 * (r12 + r21) / b; d = 0.25 * (r13 + r31) / b; a = 0.25 * (r32 - r23) / b;
    } else if (yd > 1.0) {
      c = 0.5 * std::sqrt(yd); b = 0.25 * (r12 + r21) / c; d = 0.25 * (r23 + r32) / c; a = 0.25 * (r13 - r31) / c;
    } else {
      d = 0.5 * std::sqrt(zd); b = 0.25 * (r13 + r31) / d; c = 0.25 * (r23 + r32) / d; a = 0.25 * (r21 - r12) / d;
    }
    if (a < 0.0) { b = -b; c = -c; d = -d; }
  }
  h.quatern_b = static_cast<float>(b);
  h.quatern_c = static_cast<float>(c);
  h.quatern_d = static_cast<float>(d);
  h.qoffset_x = static_cast<float>(ras_origin[0]);
  h.qoffset_y = static_cast<float>(ras_origin[1]);
  h.qoffset_z = static_cast<float>(ras_origin[2]);
  h.pixdim[0] = static_cast<float>(qfac);
  h.pixdim[1] = static_cast<float>(g.spacing[0]);
  h.pixdim[2] = static_cast<float>(g.spacing[1]);
  h.pixdim[3] = static_cast<float>(g.spacing[2]);
  h.pixdim[4] = 1.0f;

  std::string raw(352 + static_cast<size_t>(data.numel() * data.element_size()), '\0');
  std::memcpy(raw.data(), &h, sizeof(h));  // 4 zero bytes of "no extension" follow the header
  std::memcpy(raw.data() + 352, data.data_ptr(), raw.size() - 352);
  const std::string s = path.string();
  const bool gz = s.size() > 3 && s.compare(s.size() - 3, 3, ".gz") == 0;
  core::atomic_write_text(path, gz ? gzip_bytes(raw, p) : raw);
}

}  // namespace gtgm::io
