// Views for captioners (grid, window, render, PNG/base64) and the template captioner.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>

#include "gtgm/core/atomic_file.h"
#include "gtgm/io/png.h"
#include "gtgm/io/slice_render.h"
#include "gtgm/text/captioner.h"
#include "phantom.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;

TEST(CaptionViews, GridPositionsOverShapes) {
  struct Case {
    std::array<int64_t, 3> shape, step;
    size_t count;
    text::VoxelPosition first, last;
  };
  for (const auto& c : std::vector<Case>{{{30, 160, 160}, {10, 80, 80}, 12, {5, 40, 40}, {25, 120, 120}},
                                         {{31, 161, 100}, {10, 80, 80}, 6, {5, 40, 40}, {25, 120, 40}},
                                         {{4, 50, 50}, {10, 80, 80}, 1, {2, 25, 25}, {2, 25, 25}},
                                         {{10, 10, 10}, {1, 5, 10}, 20, {0, 2, 5}, {9, 7, 5}}}) {
    const auto g = io::grid_positions(c.shape, c.step);
    ASSERT_EQ(g.size(), c.count) << c.shape[0];
    EXPECT_EQ(g.front(), c.first);
    EXPECT_EQ(g.back(), c.last);
    for (const auto& p : g)
      for (int a = 0; a < 3; ++a) EXPECT_TRUE(p[a] >= 0 && p[a] < c.shape[a]);
  }
  EXPECT_EQ(io::patch_bounds(100, 200, 10, 190, 40), (std::array<int64_t, 4>{0, 40, 160, 200}));
  EXPECT_EQ(io::patch_bounds(100, 200, 50, 100, 40), (std::array<int64_t, 4>{30, 70, 80, 120}));
  EXPECT_EQ(io::patch_bounds(30, 200, 15, 100, 40), (std::array<int64_t, 4>{0, 30, 80, 120}));
  EXPECT_EQ(io::patch_bounds(30, 200, 15, 100, 0), (std::array<int64_t, 4>{0, 30, 0, 200}));
}

TEST(CaptionViews, WindowAndRenderExactValues) {
  // One slice with a horizontal ramp -200..300 HU (plus air) so auto picks the CT window.
  auto vol = torch::linspace(-200, 300, 6).view({1, 1, 6}).expand({2, 6, 6}).clone();
  vol[1][0][0] = -1000;
  io::RenderOptions o;
  o.size = 6;
  o.patch = 0;
  o.low = -100;
  o.high = 200;
  const auto w = io::window_range(vol, o);
  EXPECT_EQ(w, (std::pair<double, double>{-100, 200}));
  const auto img = io::render_slice(vol, {0, 3, 3}, o, w);  // size == patch: no resampling
  ASSERT_EQ(img.sizes().vec(), (std::vector<int64_t>{6, 6}));
  const std::vector<int> expected = {0, 0, 85, 170, 255, 255};  // (-200..300 step 100 - -100) / 300 * 255
  for (int x = 0; x < 6; ++x) EXPECT_EQ(img[2][x].item<int>(), expected[x]) << x;
  o.window = config::CaptionWindow::MinMax;
  EXPECT_EQ(io::window_range(vol, o), (std::pair<double, double>{-1000, 300}));
  // MRI-like values: percentiles.
  auto mri = torch::arange(1000).to(torch::kFloat).view({10, 10, 10});
  o.window = config::CaptionWindow::Auto;
  const auto wm = io::window_range(mri, o);
  EXPECT_NEAR(wm.first, 4.995, 1e-3);
  EXPECT_NEAR(wm.second, 994.005, 1e-3);
  // A non-square patch is padded and resized to the requested square.
  o.size = 32;
  o.patch = 8;
  EXPECT_EQ(io::render_slice(torch::zeros({2, 4, 20}), {1, 2, 10}, o, {0, 1}).sizes().vec(),
            (std::vector<int64_t>{32, 32}));
  EXPECT_THROW_MSG(io::render_slice(vol, {5, 0, 0}, o, w), "position (5, 0, 0) is outside the volume [2, 6, 6]");
}

TEST(CaptionViews, PngAndBase64) {
  EXPECT_EQ(io::base64_encode(""), "");
  EXPECT_EQ(io::base64_encode("f"), "Zg==");
  EXPECT_EQ(io::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(io::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(io::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(io::base64_encode(std::string("\xff\x00\x10", 3)), "/wAQ");

  const auto gray = torch::arange(7 * 5).to(torch::kUInt8).view({5, 7}).mul(7);
  const auto rgb = torch::stack({gray, 255 - gray, (gray / 2).to(torch::kUInt8)}, -1).contiguous();
  const std::string png = io::encode_png(gray);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(static_cast<unsigned char>(png[19]), 7u);  // width (big-endian, low byte)
  EXPECT_EQ(static_cast<unsigned char>(png[23]), 5u);  // height
  EXPECT_THROW_MSG(io::encode_png(torch::zeros({4, 4})), "needs a uint8 image");
  EXPECT_THROW_MSG(io::encode_png(torch::zeros({4, 4, 2}, torch::kUInt8)), "needs [H, W] or [H, W, 3]");

  // An independent decoder (Pillow) reads back the same pixels.
  if (test::run_command("/usr/bin/python3 -c 'import PIL, numpy'").exit_code != 0)
    GTEST_SKIP() << "Pillow not available";
  test::TempDir dir;
  for (const auto& [name, img] : std::vector<std::pair<std::string, torch::Tensor>>{{"gray", gray}, {"rgb", rgb}}) {
    test::write_file(dir / (name + ".png"), io::encode_png(img));
    test::write_file(dir / (name + ".raw"),
                     std::string(static_cast<const char*>(img.data_ptr()), static_cast<size_t>(img.numel())));
    const auto [rc, out] = test::run_command(
        "/usr/bin/python3 -c \"import numpy as np; from PIL import Image; "
        "a = np.asarray(Image.open('" +
        (dir / (name + ".png")).string() +
        "')); "
        "b = np.fromfile('" +
        (dir / (name + ".raw")).string() +
        "', dtype=np.uint8); "
        "print(a.shape, (a.ravel() == b).all())\"");
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find(name == "gray" ? "(5, 7) True" : "(5, 7, 3) True"), std::string::npos) << out;
  }
}

TEST(TemplateCaptioner, DescribesModalityLocationAndContent) {
  const auto vol = test::ct_slice_phantom(30, 64, 64);
  io::Geometry g;
  g.spacing = {0.8, 0.8, 2.5};
  const auto info = text::describe_volume(vol, g, config::CaptionModality::Auto);
  EXPECT_EQ(info.modality, config::Modality::CT);
  text::TemplateCaptioner cap;
  auto caption_at = [&](const text::VoxelPosition& p, const text::VolumeInfo& inf, const torch::Tensor& v, int patch) {
    text::SliceView view;
    view.volume_id = "case";
    view.position = p;
    view.volume = &v;
    view.info = &inf;
    view.patch = io::patch_bounds(inf.shape[1], inf.shape[2], p[1], p[2], patch);
    return cap.caption(view);
  };
  const auto centre = caption_at({25, 32, 32}, info, vol, 16);
  EXPECT_NE(centre.find("CT"), std::string::npos) << centre;
  EXPECT_NE(centre.find("superior part of the scan"), std::string::npos) << centre;  // +z is superior (LPS)
  EXPECT_NE(centre.find("Mostly soft tissue or fluid (100%)"), std::string::npos) << centre;
  EXPECT_NE(centre.find("mean attenuation 40 HU (SD 0 HU)"), std::string::npos) << centre;
  EXPECT_NE(centre.find("homogeneous"), std::string::npos) << centre;
  EXPECT_NE(centre.find("0.8 x 0.8 mm pixels, 2.5 mm slices"), std::string::npos) << centre;
  EXPECT_NE(centre.find("51 x 51 x 75 mm"), std::string::npos) << centre;
  EXPECT_EQ(centre, caption_at({25, 32, 32}, info, vol, 16));  // deterministic

  const auto bone_side = caption_at({2, 32, 45}, info, vol, 16);  // x = 0.7 W: patient's left (LPS)
  EXPECT_NE(bone_side.find("bone or calcification"), std::string::npos) << bone_side;
  EXPECT_NE(bone_side.find("left of the midline"), std::string::npos) << bone_side;
  EXPECT_NE(bone_side.find("inferior part"), std::string::npos) << bone_side;
  auto flipped = info;
  flipped.geometry.direction = {-1, 0, 0, 0, -1, 0, 0, 0, -1};  // RAS-ordered storage
  const auto f = caption_at({2, 32, 45}, flipped, vol, 16);
  EXPECT_NE(f.find("right of the midline"), std::string::npos) << f;
  EXPECT_NE(f.find("superior part"), std::string::npos) << f;
  const auto whole = caption_at({10, 2, 2}, info, vol, 0);
  EXPECT_NE(whole.find("The view shows the whole slice."), std::string::npos) << whole;
  const auto edge = caption_at({10, 2, 2}, info, vol, 8);
  EXPECT_NE(edge.find("Mostly air or lung (100%)"), std::string::npos) << edge;

  // MRI-like (no HU range) and EM-like (uint8, 40 nm sections vs 4 nm pixels).
  const auto mri = (vol + 1000.0) / 10.0;
  const auto mri_info = text::describe_volume(mri, g, config::CaptionModality::Auto);
  EXPECT_EQ(mri_info.modality, config::Modality::MRI);
  const auto m = caption_at({15, 32, 32}, mri_info, mri, 40);
  EXPECT_NE(m.find("MRI"), std::string::npos) << m;
  EXPECT_NE(m.find("Signal is"), std::string::npos) << m;
  io::Geometry em_g;
  em_g.spacing = {4, 4, 40};
  const auto em = (torch::rand({6, 64, 64}) * 255).to(torch::kUInt8);
  const auto em_info = text::describe_volume(em, em_g, config::CaptionModality::Auto);
  EXPECT_EQ(em_info.modality, config::Modality::EM);
  const auto emf = em.to(torch::kFloat);
  const auto e = caption_at({1, 32, 32}, em_info, emf, 32);
  EXPECT_NE(e.find("4 x 4 nm pixels, 40 nm sections"), std::string::npos) << e;
  EXPECT_NE(e.find("membrane"), std::string::npos) << e;
  EXPECT_EQ(text::describe_volume(mri, g, config::CaptionModality::CT).modality,
            config::Modality::CT);  // explicit override
}

}  // namespace gtgm
