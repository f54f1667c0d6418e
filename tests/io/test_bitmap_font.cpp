// The built-in 5x7 bitmap font of overlay PNGs: glyph pixels, string widths, drawing and clipping.
#include <gtest/gtest.h>

#include <string>

#include "gtgm/io/bitmap_font.h"
#include "test_util.h"

namespace gtgm {
namespace {

// Rows of a glyph as '#'/'.' strings, read back through glyph_pixel.
std::string rows_of(char c) {
  std::string out;
  for (int r = 0; r < io::kGlyphHeight; ++r) {
    for (int q = 0; q < io::kGlyphWidth; ++q) out += io::glyph_pixel(c, r, q) ? '#' : '.';
    out += r + 1 < io::kGlyphHeight ? " " : "";
  }
  return out;
}

TEST(BitmapFont, KnownGlyphPixels) {
  struct Case {
    char c;
    const char* rows;
  };
  const Case cases[] = {
      {'A', ".###. #...# #...# ##### #...# #...# #...#"}, {'T', "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."},
      {'1', "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."}, {'%', "##... ##..# ...#. ..#.. .#... #..## ...##"},
      {'=', "..... ..... ##### ..... ##### ..... ....."}, {' ', "..... ..... ..... ..... ..... ..... ....."},
      {'i', "..#.. ..... .##.. ..#.. ..#.. ..#.. .###."},
  };
  for (const Case& c : cases) EXPECT_EQ(rows_of(c.c), c.rows) << "glyph '" << c.c << "'";
  // Outside printable ASCII draws as '?'; outside the 5x7 cell nothing is set.
  EXPECT_EQ(rows_of('\x01'), rows_of('?'));
  EXPECT_EQ(rows_of('\xE9'), rows_of('?'));
  EXPECT_FALSE(io::glyph_pixel('A', -1, 1));
  EXPECT_FALSE(io::glyph_pixel('A', 3, 5));
  EXPECT_FALSE(io::glyph_pixel('A', 7, 0));
  // Every printable character but the space has at least one pixel, and letters differ.
  for (int c = 33; c <= 126; ++c) EXPECT_NE(rows_of(static_cast<char>(c)), rows_of(' ')) << "char " << c;
  EXPECT_NE(rows_of('O'), rows_of('0'));
  EXPECT_NE(rows_of('l'), rows_of('1'));
}

TEST(BitmapFont, TextWidth) {
  EXPECT_EQ(io::text_width(""), 0);
  EXPECT_EQ(io::text_width("A"), 5);
  EXPECT_EQ(io::text_width("Dice"), 23);
  EXPECT_EQ(io::text_width("ab", 2), 22);
  EXPECT_EQ(io::text_width("axial z=12", 3), 3 * 59);
  EXPECT_EQ(io::text_height(2), 14);
}

TEST(BitmapFont, DrawsGlyphPixelsScaledAndClipped) {
  auto img = torch::zeros({12, 20, 3}, torch::kUInt8);
  const int end = io::draw_text(img, 2, 1, "T", {255, 255, 255});
  EXPECT_EQ(end, 8);
  const auto on = img.select(2, 0) == 255;
  EXPECT_EQ(on.sum().item<int64_t>(), 11);  // T: 5 + 6 pixels
  for (int x = 2; x <= 6; ++x) EXPECT_TRUE(on[1][x].item<bool>()) << x;
  EXPECT_TRUE(on[7][4].item<bool>());
  EXPECT_FALSE(on[2][2].item<bool>());
  EXPECT_FALSE(on[8][4].item<bool>());
  EXPECT_EQ(img[1][2][1].item<int>(), 255);  // all channels get the colour
  // Scale 2: each font pixel a 2x2 block.
  auto big = torch::zeros({20, 20, 3}, torch::kUInt8);
  io::draw_text(big, 0, 0, "T", {10, 20, 30}, 2);
  EXPECT_EQ((big.select(2, 2) == 30).sum().item<int64_t>(), 44);
  EXPECT_EQ(big[13][5][1].item<int>(), 20);  // stem bottom: row 6 * 2 + 1, column 2 * 2 + 1
  // Clipped at the borders: no error, only the visible part drawn.
  auto clip = torch::zeros({4, 4, 3}, torch::kUInt8);
  io::draw_text(clip, -2, -1, "T", {255, 255, 255});
  EXPECT_EQ((clip.select(2, 0) == 255).sum().item<int64_t>(), 4);  // the bar is at y = -1; the stem at x = 0, y 0..3
  auto wrong = torch::zeros({4, 4}, torch::kUInt8);
  EXPECT_THROW_MSG(io::draw_text(wrong, 0, 0, "x", {1, 1, 1}), "expected contiguous CPU uint8 [H, W, 3]");
  EXPECT_THROW_MSG(io::draw_text(img, 0, 0, "x", {1, 1, 1}, 0), "scale 0 (expected >= 1)");
}

TEST(BitmapFont, FillRectClips) {
  auto img = torch::zeros({5, 6, 3}, torch::kUInt8);
  io::fill_rect(img, 4, 3, 10, 10, {7, 8, 9});
  EXPECT_EQ((img.select(2, 2) == 9).sum().item<int64_t>(), 4);  // x 4..5, y 3..4
  EXPECT_EQ(img[4][5][0].item<int>(), 7);
}

}  // namespace
}  // namespace gtgm
