#include "gtgm/data/cache_format.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#ifdef GTGM_HAVE_ZSTD
#include <zstd.h>
#endif

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the cache format is little-endian; add byte swaps");

namespace gtgm::data {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'G', 'T', 'G', 'M', 'V', 'O', 'L', '\x1a'};
constexpr uint64_t kAlign = 4096;

/// The header checksum (the legacy FNV-1a basis: files written so far carry it).
uint64_t header_checksum(const uint8_t* p, size_t n) { return core::fnv1a64_bytes(p, n, core::kFnv1a64LegacyBasis); }

class ByteWriter {
 public:
  template <class T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  template <class T, size_t N>
  void put(const std::array<T, N>& a) {
    for (const auto& v : a) put(v);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n, const fs::path& path) : p_(p), n_(n), path_(path) {}
  template <class T>
  T get() {
    GTGM_CHECK(pos_ + sizeof(T) <= n_, "{}: cache header is truncated (needs more than {} bytes)", path_.string(), n_);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  template <class T, size_t N>
  void get(std::array<T, N>& a) {
    for (auto& v : a) v = get<T>();
  }
  size_t pos() const { return pos_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const fs::path& path_;
};

void put_geometry(ByteWriter& w, const io::Geometry& g) {
  w.put(g.spacing);
  w.put(g.origin);
  w.put(g.direction);
}
void get_geometry(ByteReader& r, io::Geometry& g) {
  r.get(g.spacing);
  r.get(g.origin);
  r.get(g.direction);
}

size_t element_size(CacheDType t) {
  switch (t) {
    case CacheDType::Float32:
      return 4;
    case CacheDType::Float16:
      return 2;
    case CacheDType::UInt8:
      return 1;
    case CacheDType::Int16:
      return 2;
    case CacheDType::Int32:
      return 4;
  }
  return 0;
}

bool known_dtype(uint8_t v) { return v >= 1 && v <= 5; }

/// Bytes of the fixed header (magic .. raw_bytes), before the checksum.
std::vector<uint8_t> encode_header(const CacheHeader& h, uint64_t payload_offset, uint64_t raw_bytes) {
  ByteWriter w;
  for (char c : kMagic) w.put(c);
  w.put(kCacheFormatVersion);
  w.put(uint32_t{0});  // header length, patched below
  w.put(static_cast<uint8_t>(h.dtype));
  w.put(static_cast<uint8_t>(h.compression));
  w.put(uint16_t{0});
  w.put(uint32_t{0});
  w.put(h.shape);
  put_geometry(w, h.geometry);
  w.put(h.source_shape);
  put_geometry(w, h.source_geometry);
  w.put(h.to_source.m);
  w.put(payload_offset);
  w.put(static_cast<uint64_t>(h.payload_bytes));
  w.put(raw_bytes);
  auto& b = w.bytes();
  const auto len = static_cast<uint32_t>(b.size());
  std::memcpy(b.data() + 12, &len, sizeof(len));
  return b;
}

struct DecodedHeader {
  CacheHeader header;
  uint64_t payload_offset = 0;
  uint64_t raw_bytes = 0;
};

DecodedHeader decode_header(const uint8_t* p, size_t n, const fs::path& path) {
  GTGM_CHECK(n >= 16 && std::memcmp(p, kMagic, 8) == 0,
             "{}: not a gtgm cache file (bad magic; expected a .gvol written by `gtgm preprocess`)", path.string());
  ByteReader r(p, n, path);
  for (int i = 0; i < 8; ++i) r.get<char>();
  const auto version = r.get<uint32_t>();
  GTGM_CHECK(version == kCacheFormatVersion,
             "{}: cache format version {} but this gtgm reads version {}; re-run `gtgm preprocess`", path.string(),
             version, kCacheFormatVersion);
  const auto len = r.get<uint32_t>();
  GTGM_CHECK(len + sizeof(uint64_t) <= n, "{}: cache header is truncated ({} bytes, header says {})", path.string(), n,
             len);
  uint64_t stored_sum;
  std::memcpy(&stored_sum, p + len, sizeof(stored_sum));
  GTGM_CHECK(stored_sum == header_checksum(p, len),
             "{}: cache header checksum mismatch (corrupt file); re-run `gtgm preprocess`", path.string());
  DecodedHeader d;
  auto& h = d.header;
  const auto dtype = r.get<uint8_t>();
  const auto comp = r.get<uint8_t>();
  GTGM_CHECK(known_dtype(dtype), "{}: unknown cache dtype code {}", path.string(), dtype);
  GTGM_CHECK(comp <= 1, "{}: unknown cache compression code {}", path.string(), comp);
  h.dtype = static_cast<CacheDType>(dtype);
  h.compression = static_cast<CacheCompression>(comp);
  r.get<uint16_t>();
  r.get<uint32_t>();
  r.get(h.shape);
  get_geometry(r, h.geometry);
  r.get(h.source_shape);
  get_geometry(r, h.source_geometry);
  r.get(h.to_source.m);
  d.payload_offset = r.get<uint64_t>();
  h.payload_bytes = static_cast<int64_t>(r.get<uint64_t>());
  d.raw_bytes = r.get<uint64_t>();
  for (auto s : h.shape) GTGM_CHECK(s >= 0, "{}: negative shape in cache header", path.string());
  const uint64_t numel = static_cast<uint64_t>(h.shape[0] * h.shape[1] * h.shape[2] * h.shape[3]);
  GTGM_CHECK(d.raw_bytes == numel * element_size(h.dtype),
             "{}: cache header is inconsistent: shape [{}, {}, {}, {}] of {} needs {} bytes, header says {}",
             path.string(), h.shape[0], h.shape[1], h.shape[2], h.shape[3], cache_dtype_name(h.dtype),
             numel * element_size(h.dtype), d.raw_bytes);
  return d;
}

/// Converts `data` to the cache dtype, refusing integer values that would not fit.
torch::Tensor to_cache_dtype(const torch::Tensor& data, CacheDType t, const fs::path& path) {
  const auto target = cache_dtype_to_torch(t);
  if (data.scalar_type() == target) return data.contiguous();
  if (!c10::isFloatingType(target) && data.numel() > 0) {
    auto d = data.to(torch::kDouble);
    const double lo = d.min().item<double>(), hi = d.max().item<double>();
    double tmin = 0, tmax = 0;
    switch (t) {
      case CacheDType::UInt8:
        tmin = 0;
        tmax = 255;
        break;
      case CacheDType::Int16:
        tmin = -32768;
        tmax = 32767;
        break;
      default:
        tmin = -2147483648.0;
        tmax = 2147483647.0;
        break;
    }
    GTGM_CHECK(lo >= tmin && hi <= tmax, "{}: values in [{}, {}] do not fit cache dtype {}", path.string(), lo, hi,
               cache_dtype_name(t));
    if (c10::isFloatingType(data.scalar_type())) {
      GTGM_CHECK(torch::equal(d, d.round()), "{}: non-integer values cannot be stored as {}", path.string(),
                 cache_dtype_name(t));
    }
  }
  return data.to(target).contiguous();
}

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr != nullptr && addr != MAP_FAILED) munmap(addr, size);
  }
};

}  // namespace

// ---- IndexTransform ---------------------------------------------------------------------------

std::array<double, 3> IndexTransform::apply(const std::array<double, 3>& x) const {
  std::array<double, 3> out{};
  for (int r = 0; r < 3; ++r) out[r] = m[r * 4] * x[0] + m[r * 4 + 1] * x[1] + m[r * 4 + 2] * x[2] + m[r * 4 + 3];
  return out;
}

IndexTransform IndexTransform::then(const IndexTransform& next) const {
  IndexTransform out;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) {
      double v = c == 3 ? next.m[r * 4 + 3] : 0.0;
      for (int k = 0; k < 3; ++k) v += next.m[r * 4 + k] * m[k * 4 + c];
      out.m[r * 4 + c] = v;
    }
  }
  return out;
}

IndexTransform IndexTransform::inverse() const {
  const auto a = [&](int r, int c) { return m[r * 4 + c]; };
  const double det = a(0, 0) * (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1)) -
                     a(0, 1) * (a(1, 0) * a(2, 2) - a(1, 2) * a(2, 0)) +
                     a(0, 2) * (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0));
  GTGM_CHECK(std::abs(det) > 1e-12, "index transform is singular (det {})", det);
  double inv[3][3];
  inv[0][0] = (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1)) / det;
  inv[0][1] = (a(0, 2) * a(2, 1) - a(0, 1) * a(2, 2)) / det;
  inv[0][2] = (a(0, 1) * a(1, 2) - a(0, 2) * a(1, 1)) / det;
  inv[1][0] = (a(1, 2) * a(2, 0) - a(1, 0) * a(2, 2)) / det;
  inv[1][1] = (a(0, 0) * a(2, 2) - a(0, 2) * a(2, 0)) / det;
  inv[1][2] = (a(0, 2) * a(1, 0) - a(0, 0) * a(1, 2)) / det;
  inv[2][0] = (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0)) / det;
  inv[2][1] = (a(0, 1) * a(2, 0) - a(0, 0) * a(2, 1)) / det;
  inv[2][2] = (a(0, 0) * a(1, 1) - a(0, 1) * a(1, 0)) / det;
  IndexTransform out;
  for (int r = 0; r < 3; ++r) {
    double t = 0;
    for (int k = 0; k < 3; ++k) {
      out.m[r * 4 + k] = inv[r][k];
      t -= inv[r][k] * a(k, 3);
    }
    out.m[r * 4 + 3] = t;
  }
  return out;
}

IndexTransform IndexTransform::scale_offset(const std::array<double, 3>& scale, const std::array<double, 3>& offset) {
  IndexTransform t;
  t.m = {scale[0], 0, 0, offset[0], 0, scale[1], 0, offset[1], 0, 0, scale[2], offset[2]};
  return t;
}

// ---- dtype / compression names -------------------------------------------------------------------

std::string cache_dtype_name(CacheDType t) {
  switch (t) {
    case CacheDType::Float32:
      return "float32";
    case CacheDType::Float16:
      return "float16";
    case CacheDType::UInt8:
      return "uint8";
    case CacheDType::Int16:
      return "int16";
    case CacheDType::Int32:
      return "int32";
  }
  return "?";
}

CacheDType parse_cache_dtype(const std::string& name) {
  for (auto t : {CacheDType::Float32, CacheDType::Float16, CacheDType::UInt8, CacheDType::Int16, CacheDType::Int32}) {
    if (cache_dtype_name(t) == name) return t;
  }
  throw ConfigError("unknown cache dtype '" + name + "'; expected one of: float32, float16, uint8, int16, int32");
}

bool zstd_available() {
#ifdef GTGM_HAVE_ZSTD
  return true;
#else
  return false;
#endif
}

CacheCompression cache_compression(config::Compression compression) {
  switch (compression) {
    case config::Compression::None:
      return CacheCompression::None;
    case config::Compression::Zstd:
      if (!zstd_available()) {
        throw ConfigError(
            "cache compression 'zstd' is not available: gtgm was built without libzstd "
            "(install libzstd-dev and rebuild, or use data.preprocess.compression=none)");
      }
      return CacheCompression::Zstd;
  }
  throw ConfigError("unknown cache compression " + std::to_string(static_cast<int>(compression)));
}

CacheCompression parse_cache_compression(const std::string& name) {
  if (const auto c = config::parse_enum<config::Compression>(name)) return cache_compression(*c);
  throw ConfigError("unknown cache compression '" + name + "'; expected one of: none, zstd");
}

torch::ScalarType cache_dtype_to_torch(CacheDType t) {
  switch (t) {
    case CacheDType::Float32:
      return torch::kFloat;
    case CacheDType::Float16:
      return torch::kHalf;
    case CacheDType::UInt8:
      return torch::kUInt8;
    case CacheDType::Int16:
      return torch::kShort;
    case CacheDType::Int32:
      return torch::kInt;
  }
  return torch::kFloat;
}

// ---- write / read ---------------------------------------------------------------------------------

void write_cache_array(const fs::path& path, const torch::Tensor& data, CacheHeader header, int zstd_level) {
  GTGM_CHECK(data.defined() && data.dim() == 4, "{}: cache arrays are [C, D, H, W]; got a tensor with {} dims",
             path.string(), data.defined() ? data.dim() : 0);
  const auto values = to_cache_dtype(data.cpu(), header.dtype, path);
  for (int i = 0; i < 4; ++i) header.shape[i] = values.size(i);
  const uint64_t raw_bytes = static_cast<uint64_t>(values.numel()) * element_size(header.dtype);
  const auto* raw = static_cast<const char*>(values.data_ptr());

  std::vector<char> packed;
  const char* payload = raw;
  uint64_t payload_bytes = raw_bytes;
  if (header.compression == CacheCompression::Zstd) {
#ifdef GTGM_HAVE_ZSTD
    packed.resize(ZSTD_compressBound(raw_bytes));
    const size_t n = ZSTD_compress(packed.data(), packed.size(), raw, raw_bytes, zstd_level);
    GTGM_CHECK(!ZSTD_isError(n), "{}: zstd compression failed: {}", path.string(), ZSTD_getErrorName(n));
    payload = packed.data();
    payload_bytes = n;
#else
    GTGM_THROW("{}: zstd compression requested but gtgm was built without libzstd", path.string());
#endif
  }
  header.payload_bytes = static_cast<int64_t>(payload_bytes);
  auto bytes = encode_header(header, 0, raw_bytes);
  const uint64_t payload_offset = ((bytes.size() + sizeof(uint64_t) + kAlign - 1) / kAlign) * kAlign;
  bytes = encode_header(header, payload_offset, raw_bytes);
  const uint64_t sum = header_checksum(bytes.data(), bytes.size());
  core::atomic_write(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.write(reinterpret_cast<const char*>(&sum), sizeof(sum));
    const std::vector<char> pad(payload_offset - bytes.size() - sizeof(sum), 0);
    out.write(pad.data(), static_cast<std::streamsize>(pad.size()));
    out.write(payload, static_cast<std::streamsize>(payload_bytes));
  });
}

CacheHeader read_cache_header(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  GTGM_CHECK(in.good(), "{}: cannot open cache file", path.string());
  std::vector<uint8_t> buf(kAlign);
  in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  return decode_header(buf.data(), static_cast<size_t>(in.gcount()), path).header;
}

CachedArray CachedArray::open(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  GTGM_CHECK(fd >= 0, "{}: cannot open cache file: {}", path.string(), std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    GTGM_THROW("{}: cannot stat cache file", path.string());
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(st.st_size);
  if (map->size > 0) map->addr = mmap(nullptr, map->size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  GTGM_CHECK(map->size > 0 && map->addr != MAP_FAILED, "{}: cannot memory-map cache file ({} bytes)", path.string(),
             map->size);
  const auto* base = static_cast<const uint8_t*>(map->addr);
  const auto d = decode_header(base, std::min<size_t>(map->size, kAlign), path);
  const auto& h = d.header;
  GTGM_CHECK(d.payload_offset + static_cast<uint64_t>(h.payload_bytes) == map->size,
             "{}: cache file is truncated or has trailing bytes: {} bytes, header expects {}", path.string(), map->size,
             d.payload_offset + h.payload_bytes);

  CachedArray out;
  out.header_ = std::make_shared<const CacheHeader>(h);
  out.path_ = std::make_shared<const fs::path>(path);
  const auto options = torch::TensorOptions().dtype(cache_dtype_to_torch(h.dtype));
  const std::vector<int64_t> sizes(h.shape.begin(), h.shape.end());
  if (h.compression == CacheCompression::None) {
    void* p = const_cast<uint8_t*>(base + d.payload_offset);
    out.tensor_ = torch::from_blob(
        p, sizes, [map](void*) {}, options);
  } else {
#ifdef GTGM_HAVE_ZSTD
    out.tensor_ = torch::empty(sizes, options);
    const size_t n = ZSTD_decompress(out.tensor_.data_ptr(), d.raw_bytes, base + d.payload_offset,
                                     static_cast<size_t>(h.payload_bytes));
    GTGM_CHECK(!ZSTD_isError(n) && n == d.raw_bytes, "{}: corrupt zstd payload ({})", path.string(),
               ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch");
#else
    GTGM_THROW("{}: zstd-compressed cache but gtgm was built without libzstd; rebuild with libzstd-dev", path.string());
#endif
  }
  return out;
}

}  // namespace gtgm::data
