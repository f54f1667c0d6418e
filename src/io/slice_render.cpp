#include "gtgm/io/slice_render.h"

#include <algorithm>

#include "gtgm/core/error.h"

namespace gtgm::io {

std::vector<VoxelPosition> grid_positions(const std::array<int64_t, 3>& shape, const std::array<int64_t, 3>& step) {
  std::array<std::vector<int64_t>, 3> axes;
  for (int a = 0; a < 3; ++a) {
    GTGM_CHECK(shape[a] > 0 && step[a] > 0, "grid_positions: shape {} and step {} must be positive",
               fmt::join(shape, "x"), fmt::join(step, "x"));
    if (shape[a] < step[a]) {
      axes[a].push_back(shape[a] / 2);
      continue;
    }
    for (int64_t p = step[a] / 2; p < shape[a]; p += step[a]) axes[a].push_back(p);
  }
  std::vector<VoxelPosition> out;
  for (int64_t z : axes[0])
    for (int64_t y : axes[1])
      for (int64_t x : axes[2]) out.push_back({z, y, x});
  return out;
}

std::pair<double, double> window_range(const torch::Tensor& volume, const RenderOptions& o) {
  if (o.window == config::CaptionWindow::Fixed) {
    GTGM_CHECK(o.high > o.low, "captioner window_high {} must exceed window_low {}", o.high, o.low);
    return {o.low, o.high};
  }
  const auto flat = volume.reshape({-1});
  // A strided sample keeps the quantile cheap on large volumes.
  const int64_t stride = std::max<int64_t>(1, flat.numel() / 1000000);
  const auto sample = flat.slice(0, 0, flat.numel(), stride).to(torch::kFloat);
  const double mn = sample.min().item<double>(), mx = sample.max().item<double>();
  if (o.window == config::CaptionWindow::MinMax) return {mn, mx > mn ? mx : mn + 1};
  if (mn <= -500 && mx >= 300) return {o.low, o.high};
  const auto q = torch::quantile(sample, torch::tensor({0.005, 0.995}, torch::kFloat));
  const double lo = q[0].item<double>(), hi = q[1].item<double>();
  return {lo, hi > lo ? hi : lo + 1};
}

std::array<int64_t, 4> patch_bounds(int64_t h, int64_t w, int64_t y, int64_t x, int patch) {
  auto axis = [&](int64_t n, int64_t c) -> std::pair<int64_t, int64_t> {
    if (patch <= 0 || patch >= n) return {0, n};
    const int64_t start = std::clamp<int64_t>(c - patch / 2, 0, n - patch);
    return {start, start + patch};
  };
  const auto [y0, y1] = axis(h, y);
  const auto [x0, x1] = axis(w, x);
  return {y0, y1, x0, x1};
}

torch::Tensor render_slice(const torch::Tensor& volume, const VoxelPosition& p, const RenderOptions& o,
                           const std::pair<double, double>& window) {
  GTGM_CHECK(volume.dim() == 3, "render_slice needs a volume [D, H, W], got {}", volume.sizes());
  GTGM_CHECK(o.size >= 1, "render size must be >= 1, got {}", o.size);
  const int64_t d = volume.size(0), h = volume.size(1), w = volume.size(2);
  GTGM_CHECK(p[0] >= 0 && p[0] < d && p[1] >= 0 && p[1] < h && p[2] >= 0 && p[2] < w,
             "position ({}, {}, {}) is outside the volume {}", p[0], p[1], p[2], volume.sizes());
  const auto b = patch_bounds(h, w, p[1], p[2], o.patch);
  auto img = volume.select(0, p[0]).slice(0, b[0], b[1]).slice(1, b[2], b[3]).to(torch::kFloat);  // [h', w']
  const double lo = window.first, hi = window.second;
  img = ((img - lo) / (hi - lo)).clamp(0.0, 1.0);
  const int64_t side = std::max(img.size(0), img.size(1));
  if (img.size(0) != img.size(1)) {
    // Pad to a square (black) so the resize keeps the aspect ratio.
    img = torch::constant_pad_nd(img, {0, side - img.size(1), 0, side - img.size(0)}, 0.0);
  }
  img =
      torch::nn::functional::interpolate(img.unsqueeze(0).unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                                                            .size(std::vector<int64_t>{o.size, o.size})
                                                                            .mode(torch::kBilinear)
                                                                            .align_corners(false))
          .squeeze(0)
          .squeeze(0);  // [size, size]
  return (img * 255.0).round().clamp(0, 255).to(torch::kUInt8);
}

}  // namespace gtgm::io
