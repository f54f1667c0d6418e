#pragma once
/// A built-in 5x7 bitmap font for labels in rendered PNGs (overlays): printable ASCII (32..126),
/// one glyph per 6x8 cell (a blank column and row after each), no font files. Characters outside
/// printable ASCII draw as '?'.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace gtgm::io {

inline constexpr int kGlyphWidth = 5;   ///< glyph pixels per row
inline constexpr int kGlyphHeight = 7;  ///< glyph rows
inline constexpr int kCellWidth = 6;    ///< advance per character (glyph + one blank column)
inline constexpr int kCellHeight = 8;   ///< line height (glyph + one blank row)

using Rgb = std::array<uint8_t, 3>;

/// Whether pixel (row, col) of `c`'s glyph is set; row in [0, 7), col in [0, 5) (false outside).
bool glyph_pixel(char c, int row, int col);

/// Width in pixels of `text` drawn at `scale`: scale * (6 * n - 1) for n > 0 characters (no
/// trailing blank column), 0 for "".
int text_width(std::string_view text, int scale = 1);

/// Height in pixels of one line of text at `scale` (7 * scale).
inline int text_height(int scale = 1) { return kGlyphHeight * scale; }

/// Draws `text` into `image` (uint8 [H, W, 3], contiguous, CPU) with its top-left glyph pixel at
/// (x, y), each font pixel a scale x scale block of `colour`; pixels outside the image are
/// clipped. Returns the x just after the text (x + text_width + scale).
int draw_text(torch::Tensor& image, int x, int y, std::string_view text, const Rgb& colour, int scale = 1);

/// Fills the rectangle [y, y + h) x [x, x + w) of `image` (uint8 [H, W, 3]) with `colour`, clipped.
void fill_rect(torch::Tensor& image, int x, int y, int w, int h, const Rgb& colour);

}  // namespace gtgm::io
