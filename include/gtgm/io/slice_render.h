#pragma once
/// Caption positions on a grid and the 2D views a captioner sees: an axial patch (tensor axes
/// H, W at depth index z) around each grid position, intensity-windowed to 8 bits and resized.
#include <torch/torch.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "gtgm/config/text_config.h"

namespace gtgm::io {

/// A voxel position (z, y, x) in index order.
using VoxelPosition = std::array<int64_t, 3>;

/// Grid positions (z, y, x) for a volume of shape {D, H, W}: along each axis step/2, step/2 +
/// step, ... (< size); an axis shorter than its step gets its centre. Order: z, then y, then x.
std::vector<VoxelPosition> grid_positions(const std::array<int64_t, 3>& shape, const std::array<int64_t, 3>& step);

struct RenderOptions {
  int size = 224;                     ///< output side in pixels
  int patch = 160;                    ///< in-plane patch side in voxels around (y, x); 0 = whole slice
  config::CaptionWindow window = config::CaptionWindow::Auto;  ///< auto | fixed | minmax
  double low = -160.0, high = 240.0;  ///< fixed window (CT soft tissue: -160..240 HU)
};

/// Intensity range mapped to 0..255 for a volume [D, H, W]: fixed -> (low, high); minmax ->
/// (min, max); auto -> (low, high) when the values look like CT Hounsfield units (min <= -500 and
/// max >= 300), else the 0.5 / 99.5 percentiles (of a strided sample).
std::pair<double, double> window_range(const torch::Tensor& volume, const RenderOptions& options);

/// In-plane patch bounds [y0, y1) x [x0, x1) of side `patch` centred on (y, x), shifted to stay
/// inside an H x W slice (the whole axis when it is shorter).
std::array<int64_t, 4> patch_bounds(int64_t h, int64_t w, int64_t y, int64_t x, int patch);

/// The rendered view: uint8 [size, size]; a non-square patch is padded (black) to a square
/// before the bilinear resize. `volume` is [D, H, W] (any dtype).
torch::Tensor render_slice(const torch::Tensor& volume, const VoxelPosition& position, const RenderOptions& options,
                           const std::pair<double, double>& window);

}  // namespace gtgm::io
