#include "gtgm/io/png.h"

#include <zlib.h>

#include "gtgm/core/error.h"

namespace gtgm::io {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

void put_chunk(std::string& out, const char type[4], const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.append(type, 4);
  out += data;
  const uLong crc =
      crc32(0L, reinterpret_cast<const Bytef*>(out.data() + start), static_cast<uInt>(out.size() - start));
  put_u32(out, static_cast<uint32_t>(crc));
}

}  // namespace

std::string encode_png(const torch::Tensor& image) {
  GTGM_CHECK(image.scalar_type() == torch::kUInt8, "encode_png needs a uint8 image, got {}", image.scalar_type());
  GTGM_CHECK(image.dim() == 2 || (image.dim() == 3 && image.size(2) == 3),
             "encode_png needs [H, W] or [H, W, 3], got {}", image.sizes());
  GTGM_CHECK(image.numel() > 0, "encode_png: empty image {}", image.sizes());
  const auto img = image.contiguous().cpu();
  const auto h = static_cast<uint32_t>(img.size(0));
  const auto w = static_cast<uint32_t>(img.size(1));
  const int channels = img.dim() == 3 ? 3 : 1;
  const size_t row_bytes = static_cast<size_t>(w) * channels;
  std::string raw;
  raw.reserve((row_bytes + 1) * h);
  const auto* px = img.data_ptr<uint8_t>();
  for (uint32_t y = 0; y < h; ++y) {
    raw.push_back('\0');  // filter: none
    raw.append(reinterpret_cast<const char*>(px + y * row_bytes), row_bytes);
  }
  uLongf zsize = compressBound(static_cast<uLong>(raw.size()));
  std::string z(zsize, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(z.data()), &zsize, reinterpret_cast<const Bytef*>(raw.data()),
                           static_cast<uLong>(raw.size()), 6);
  GTGM_CHECK(rc == Z_OK, "encode_png: zlib compress failed (code {})", rc);
  z.resize(zsize);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_u32(ihdr, w);
  put_u32(ihdr, h);
  ihdr.push_back(8);                      // bit depth
  ihdr.push_back(channels == 3 ? 2 : 0);  // colour type: RGB or grayscale
  ihdr.append(std::string("\0\0\0", 3));  // compression, filter, interlace
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", "");
  return png;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

}  // namespace gtgm::io
