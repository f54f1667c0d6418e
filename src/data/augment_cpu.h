#pragma once
// CPU kernels of the augmentations (private to the data area). On the CPU, a chain of generic
// tensor ops costs a full pass and an allocation each, and grid_sample / depthwise conv3d are slow;
// these fused, separable loops compute the same results (tests compare them with the tensor-op
// path) in a few passes over each sample. Every function works on one contiguous sample.
#include <array>
#include <cstdint>
#include <vector>

namespace gtgm::data::cpu {

using Shape3 = std::array<int64_t, 3>;

/// Where output axis a reads from: input axis `axis`, reversed when `flip`. Composes like torch
/// view ops (flip, transpose, permute) applied to the input.
struct AxisMap {
  std::array<int, 3> axis{0, 1, 2};
  std::array<bool, 3> flip{false, false, false};
  void flip_axis(int a) { flip[a] = !flip[a]; }
  void transpose(int a, int b);
  /// out axis a = current axis perm[a] (torch permute).
  void permute(const std::array<int, 3>& perm);
  /// torch::rot90(x, k, {dim_h, dim_w}) on the last two axes.
  void rot90(int k);
  bool identity() const;
  /// Output shape for an input of shape `in`.
  Shape3 out_shape(const Shape3& in) const;
};

/// min and max of n floats.
void minmax(const float* p, int64_t n, float& lo, float& hi);

/// out = (in[map(o)] - lo) * scale for every output voxel (T = float or int64_t; lo/scale are
/// ignored for int64_t). `out` must not alias `in`.
void gather(const float* in, const Shape3& in_shape, const AxisMap& map, float lo, float scale, float* out);
void gather(const int64_t* in, const Shape3& in_shape, const AxisMap& map, int64_t* out);

/// One axis of a centred zoom (content magnified by `zoom`), as grid_sample with align_corners =
/// false: linear with the coordinate clamped to the edge (image), or nearest (round half to even)
/// with 0 outside (labels). Writes to `out` (same shape, no aliasing).
void zoom_linear_axis(const float* in, const Shape3& shape, int axis, double zoom, float* out);
void zoom_nearest_axis(const int64_t* in, const Shape3& shape, int axis, double zoom, int64_t* out);

/// One axis of a separable convolution with odd `taps` (centre in the middle), replicate padding.
void convolve_axis(const float* in, const Shape3& shape, int axis, const std::vector<float>& taps, float* out);

/// Odd Gaussian kernel of `size` taps (sigma <= 0 or size 1: identity), centred in `width` taps.
std::vector<float> gaussian_taps(double sigma, int size, int width);

/// In place: p = p * a + b, clamped to [0, 1] when `clamp01`; returns min and max of the result.
void affine(float* p, int64_t n, float a, float b, bool clamp01, float& lo, float& hi);

}  // namespace gtgm::data::cpu
