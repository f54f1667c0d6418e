#pragma once
/// A small PNG encoder (zlib) and base64, for sending rendered slices to vision-language servers.
#include <torch/torch.h>

#include <string>
#include <string_view>

namespace gtgm::io {

/// PNG file bytes of an 8-bit image: uint8 [H, W] (grayscale) or [H, W, 3] (RGB), any layout.
/// Rows use filter type 0; the data is zlib-compressed at level 6.
std::string encode_png(const torch::Tensor& image);

/// Standard base64 (RFC 4648, with '=' padding).
std::string base64_encode(std::string_view bytes);

}  // namespace gtgm::io
