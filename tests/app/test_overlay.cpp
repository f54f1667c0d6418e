// Overlay PNGs (app/overlay.h): radiological display orientation through a real NIfTI round trip,
// slice choice, spacing aspect, slice labels, Dice lines and the class legend.
#include <gtest/gtest.h>

#include <cmath>

#include "gtgm/app/overlay.h"
#include "gtgm/io/volume_io.h"
#include "test_util.h"

namespace gtgm {
namespace {

using torch::indexing::Slice;

io::Volume volume(torch::Tensor data, const std::array<double, 9>& direction = {1, 0, 0, 0, 1, 0, 0, 0, 1},
                  const std::array<double, 3>& spacing = {1, 1, 1}) {
  io::Volume v;
  v.data = data.unsqueeze(0).contiguous();
  v.geometry.direction = direction;
  v.geometry.spacing = spacing;
  return v;
}

torch::Tensor ramp(int64_t d, int64_t h, int64_t w) {
  return torch::arange(d * h * w, torch::kFloat).view({d, h, w}).remainder(37.0) * 3.0;
}

// Pixels of `panel` [S, S, 3] exactly of colour `c`: [N, 2] (y, x).
torch::Tensor pixels_of(const torch::Tensor& panel, const io::Rgb& c) {
  const auto p = panel.to(torch::kInt);
  return ((p.select(2, 0) == c[0]) & (p.select(2, 1) == c[1]) & (p.select(2, 2) == c[2])).nonzero();
}

torch::Tensor panel(const app::OverlayImage& o, size_t i) {
  const app::PanelRect r = o.panels.at(i);
  return o.rgb.index({Slice(r.y, r.y + r.h), Slice(r.x, r.x + r.w)});
}

TEST(Overlay, RasNiftiIsShownRadiologicalLeftAnteriorTopRight) {
  // Stored as RAS (the NIfTI habit): i runs to the patient's right, j to anterior.
  const std::array<double, 9> ras{-1, 0, 0, 0, -1, 0, 0, 0, 1};
  auto labels = torch::zeros({5, 6, 8}, torch::kUInt8);
  labels.index_put_({2, 5, 0}, 1);  // left (i = 0), anterior (j = H-1)
  labels.index_put_({2, 0, 7}, 2);  // right, posterior
  test::TempDir dir;
  io::write_volume(volume(ramp(5, 6, 8), ras), dir / "img.nii.gz");
  io::write_volume(volume(labels, ras), dir / "pred.nii.gz");
  app::OverlayCase c;
  c.id = "case_1";
  c.image = io::read_volume(dir / "img.nii.gz");
  c.prediction = io::read_volume(dir / "pred.nii.gz");
  ASSERT_EQ(c.image.geometry.direction, ras);
  app::OverlayStyle style;
  style.size = 64;
  const app::OverlayImage o = app::render_overlay(c, style);
  ASSERT_EQ(o.panels.size(), 2u);  // no reference: image | prediction
  EXPECT_EQ(o.slice_label, "axial z=2");
  // 8 x 6 mm in a 64-pixel panel: 64 x 48 pixels, centred vertically; 8 pixels per voxel.
  EXPECT_EQ(o.content.x, 0);
  EXPECT_EQ(o.content.y, 8);
  EXPECT_EQ(o.content.w, 64);
  EXPECT_EQ(o.content.h, 48);
  const auto left_anterior = pixels_of(panel(o, 1), app::label_colour(1));
  ASSERT_GT(left_anterior.size(0), 0);
  EXPECT_EQ(left_anterior.select(1, 0).min().item<int64_t>(), 8);  // top voxel row
  EXPECT_EQ(left_anterior.select(1, 0).max().item<int64_t>(), 15);
  EXPECT_EQ(left_anterior.select(1, 1).min().item<int64_t>(), 56);  // rightmost voxel column
  EXPECT_EQ(left_anterior.select(1, 1).max().item<int64_t>(), 63);
  const auto right_posterior = pixels_of(panel(o, 1), app::label_colour(2));
  ASSERT_GT(right_posterior.size(0), 0);
  EXPECT_EQ(right_posterior.select(1, 0).min().item<int64_t>(), 48);   // bottom voxel row
  EXPECT_EQ(right_posterior.select(1, 1).max().item<int64_t>(), 7);    // leftmost voxel column
  EXPECT_EQ(pixels_of(panel(o, 0), app::label_colour(1)).size(0), 0);  // the image panel has no labels
  // The same patient stored in LPS (ITK's identity) renders to the same pixels.
  app::OverlayCase lps = c;
  lps.image = volume(ramp(5, 6, 8).flip({1, 2}));
  lps.prediction = volume(labels.flip({1, 2}));
  const app::OverlayImage o2 = app::render_overlay(lps, style);
  EXPECT_TRUE(torch::equal(o.rgb, o2.rgb));
}

TEST(Overlay, PicksTheSliceWithTheMostReferenceForeground) {
  auto ref = torch::zeros({6, 4, 4}, torch::kLong), pred = torch::zeros({6, 4, 4}, torch::kLong);
  ref.index_put_({1, 0, 0}, 1);
  ref.index_put_({4, Slice(0, 2), Slice(0, 2)}, 1);
  pred.index_put_({0, Slice(0, 3), Slice(0, 3)}, 1);
  app::OverlayStyle style;
  style.size = 16;
  app::OverlayCase c{"c", volume(ramp(6, 4, 4)), volume(pred), volume(ref), std::nullopt};
  EXPECT_EQ(app::render_overlay(c, style).display_z, 4);
  c.reference.reset();
  EXPECT_EQ(app::render_overlay(c, style).display_z, 0);  // the prediction's when there is no reference
  c.prediction = volume(torch::zeros({6, 4, 4}, torch::kLong));
  EXPECT_EQ(app::render_overlay(c, style).display_z, 3);  // the middle when nothing is labelled
  // Depth stored inferior-up (z flipped): the file's slice 4 is display slice 1; the label names the file's.
  app::OverlayCase flipped{"c", volume(ramp(6, 4, 4), {1, 0, 0, 0, 1, 0, 0, 0, -1}), volume(pred),
                           volume(ref, {1, 0, 0, 0, 1, 0, 0, 0, -1}), std::nullopt};
  const app::OverlayImage o = app::render_overlay(flipped, style);
  EXPECT_EQ(o.display_z, 1);
  EXPECT_EQ(o.file_index, 4);
  EXPECT_EQ(o.slice_label, "axial z=4");
}

TEST(Overlay, SliceLabelSaysAxialOnlyWhenItIs) {
  struct Case {
    std::array<double, 9> direction;
    bool patient_space;
    const char* label;
  };
  const double c40 = std::cos(40 * M_PI / 180), s40 = std::sin(40 * M_PI / 180);
  const Case cases[] = {
      {{1, 0, 0, 0, 1, 0, 0, 0, 1}, true, "axial z=1"},
      // Stored coronally (k runs posterior, j superior): the axial slice crosses the file's j axis.
      {{1, 0, 0, 0, 0, 1, 0, 1, 0}, true, "axial z=3 (file j=3)"},
      // Tilted 40 degrees about x: the nearest axis is still z, but this is no axial slice.
      {{1, 0, 0, 0, c40, -s40, 0, s40, c40}, true, "oblique slice z=1"},
      {{1, 0, 0, 0, 1, 0, 0, 0, 1}, false, "slice z=1"},
  };
  for (const Case& k : cases) {
    auto ref = torch::zeros({3, 5, 4}, torch::kLong);
    ref.index_put_({1, 3, 2}, 1);
    app::OverlayStyle style;
    style.size = 16;
    style.patient_space = k.patient_space;
    const app::OverlayCase c{"c", volume(ramp(3, 5, 4), k.direction), volume(ref, k.direction),
                             volume(ref, k.direction), std::nullopt};
    EXPECT_EQ(app::render_overlay(c, style).slice_label, k.label);
  }
}

TEST(Overlay, AspectFollowsTheInPlaneSpacing) {
  app::OverlayStyle style;
  style.size = 64;
  // 8 x 8 voxels of 1 mm (x) by 2 mm (y): twice as tall as wide.
  const app::OverlayCase c{"c", volume(ramp(2, 8, 8) + 10, {1, 0, 0, 0, 1, 0, 0, 0, 1}, {1, 2, 3}),
                           volume(torch::zeros({2, 8, 8}, torch::kLong)), std::nullopt, std::nullopt};
  const app::OverlayImage o = app::render_overlay(c, style);
  EXPECT_EQ(o.content.x, 16);
  EXPECT_EQ(o.content.y, 0);
  EXPECT_EQ(o.content.w, 32);
  EXPECT_EQ(o.content.h, 64);
  const auto img = panel(o, 0);
  EXPECT_EQ(img.index({Slice(), Slice(0, 16)}).max().item<int>(), 0);  // padding left and right
  EXPECT_EQ(img.index({Slice(), Slice(48, 64)}).max().item<int>(), 0);
  EXPECT_GT(img.index({Slice(), Slice(16, 48)}).max().item<int>(), 0);
}

TEST(Overlay, DiceLinesAndLegendNamedByTheDataset) {
  auto ref = torch::zeros({3, 6, 6}, torch::kLong);
  ref.index_put_({1, Slice(1, 4), Slice(1, 4)}, 1);
  app::OverlayStyle style;
  style.size = 128;
  style.class_names = {{0, "background"}, {1, "liver"}, {2, "tumour"}};
  app::OverlayDice dice;
  dice.mean = 0.5;
  dice.classes = {{1, 0.75}, {2, std::nan("")}};
  const app::OverlayCase c{"case_007", volume(ramp(3, 6, 6)), volume(ref), volume(ref), dice};
  const app::OverlayImage o = app::render_overlay(c, style);
  ASSERT_EQ(o.panels.size(), 3u);
  const std::vector<std::string> want = {
      "case_007",    "axial z=1",  "image", "prediction", "reference", "Dice: foreground mean 50.0%",
      "liver 75.0%", "tumour n/a", "liver", "tumour"};
  EXPECT_EQ(o.lines, want);
  const std::vector<std::pair<int64_t, std::string>> legend = {{1, "liver"}, {2, "tumour"}};
  EXPECT_EQ(o.legend, legend);  // every declared class, also one absent from the slice
  // Below the panels: the tumour swatch in its colour; above them: white title text.
  const int below = o.panels[0].y + o.panels[0].h;
  const auto footer = o.rgb.index({Slice(below, o.rgb.size(0))});
  EXPECT_GT(pixels_of(footer, app::label_colour(2)).size(0), 0);
  EXPECT_GT(pixels_of(o.rgb.index({Slice(0, o.panels[0].y)}), {235, 235, 235}).size(0), 20);
  // The first title character is drawn from the font: 'c' at scale 1 (size 128), top-left at (3, 3).
  EXPECT_EQ(o.rgb[3 + 2][3 + 1][0].item<int>(), 235);  // 'c' row 2 ".###." column 1
  EXPECT_EQ(o.rgb[3 + 2][3 + 0][0].item<int>(), 24);   // background
  // Without dataset names: the classes in the slice, named by value; no Dice without scores.
  auto pred = ref.clone();
  pred.index_put_({1, 5, 5}, 3);
  const app::OverlayCase unnamed{"x", volume(ramp(3, 6, 6)), volume(pred), std::nullopt, std::nullopt};
  const app::OverlayImage u = app::render_overlay(unnamed, app::OverlayStyle{});
  const std::vector<std::pair<int64_t, std::string>> by_value = {{1, "class 1"}, {3, "class 3"}};
  EXPECT_EQ(u.legend, by_value);
  for (const std::string& line : u.lines) EXPECT_EQ(line.find("Dice"), std::string::npos) << line;
}

TEST(Overlay, RefusesPredictionOnAnotherGrid) {
  const app::OverlayCase c{"case_3", volume(ramp(4, 4, 4)), volume(torch::zeros({3, 4, 4}, torch::kLong)), std::nullopt,
                           std::nullopt};
  EXPECT_THROW_MSG(app::render_overlay(c, app::OverlayStyle{}),
                   "case 'case_3': prediction [1, 3, 4, 4] must be one channel on the image's grid [1, 4, 4, 4]");
}

}  // namespace
}  // namespace gtgm
