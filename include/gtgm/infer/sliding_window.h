#pragma once
/// Sliding-window inference over a whole volume, model-agnostic (the model is a ForwardFn).
///
/// Windows: along each axis the number of windows is n = ceil((size - patch) / (patch * (1 -
/// overlap))) + 1 and their starts are spread evenly from 0 to size - patch (nnU-Net's rule). An
/// axis shorter than the patch is padded (constant `pad_value`, split evenly before/after) and
/// cropped back afterwards.
///
/// Blending: each window's output is multiplied by an importance map and the sum is divided by the
/// summed importance. The map is separable, w(z, y, x) = g_D(z) g_H(y) g_W(x), with
/// g(i) = exp(-(i - (p - 1) / 2)^2 / (2 sigma^2)), sigma = sigma_scale * p (nnU-Net: 1/8), so the
/// normaliser is the product of three 1-D sums and no per-voxel weight volume is ever stored.
/// "constant" blending uses g = 1 (plain averaging of overlaps).
///
/// Memory bound (documented in docs/metrics.md): on `device`, the accumulator holds
/// K x D' x H' x W' values of `accumulate_dtype` (D', H', W' = size after padding, K = output
/// channels), plus one batch of windows in and out (batch_size x (C + K) x patch voxels, twice with
/// mirror TTA). Nothing of size K x volume is kept on the host: sliding_window_segment returns the
/// argmax as uint8/int16 labels computed slab by slab.
#include <torch/torch.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "gtgm/config/eval_config.h"

namespace gtgm::infer {

/// The model: a batch of windows [N, C, pd, ph, pw] on the inference device -> logits
/// [N, K, pd, ph, pw] (any floating dtype; K fixed across calls).
using ForwardFn = std::function<torch::Tensor(const torch::Tensor&)>;

struct SlidingWindowOptions {
  std::array<int64_t, 3> patch_size{64, 64, 64};       ///< window [pd, ph, pw] in voxels
  double overlap = 0.5;                                ///< fraction of a window shared with its neighbour, [0, 1)
  config::Blend blend = config::Blend::Gaussian;       ///< gaussian or constant
  double sigma_scale = 0.125;                          ///< gaussian sigma as a fraction of the patch size
  bool mirror_tta = false;                             ///< average over all flips of `mirror_axes`
  std::vector<int64_t> mirror_axes = {0, 1, 2};        ///< spatial axes (0 = D, 1 = H, 2 = W) flipped by TTA
  int64_t batch_size = 2;                              ///< windows per predictor call
  torch::Device device = torch::kCPU;                  ///< where the predictor runs and outputs accumulate
  torch::ScalarType accumulate_dtype = torch::kFloat;  ///< kFloat or kHalf
  double pad_value = 0.0;                              ///< value of the padding of axes shorter than the patch
};

/// Options from the `eval:` config section, a patch size (usually data.crop_size) and a device.
SlidingWindowOptions sliding_window_options(const config::EvalConfig& cfg, const std::array<int64_t, 3>& patch_size,
                                            const torch::Device& device);

/// Window starts along one axis of length `size` (>= patch) for a window of `patch` voxels.
std::vector<int64_t> window_starts(int64_t size, int64_t patch, double overlap);

/// 1-D importance profile of one axis: [patch] float64 (gaussian or constant, max 1).
torch::Tensor importance_profile(int64_t patch, config::Blend blend, double sigma_scale);

/// Blended logits of a whole image. image: [C, D, H, W] (any device/floating dtype; windows are
/// copied to options.device batch by batch). Returns [K, D, H, W] of accumulate_dtype on
/// options.device.
torch::Tensor sliding_window_inference(const torch::Tensor& image, const ForwardFn& predictor,
                                       const SlidingWindowOptions& options);

/// Label map of a whole image: argmax over K of sliding_window_inference, computed in slabs along D.
/// Returns [D, H, W] on the CPU, uint8 when K <= 256, else int16.
torch::Tensor sliding_window_segment(const torch::Tensor& image, const ForwardFn& predictor,
                                     const SlidingWindowOptions& options);

/// Argmax over dim 0 of `logits` [K, D, H, W] (the first maximum; a NaN counts as the maximum, as
/// torch::argmax), on the CPU as uint8 (K <= 256) or int16. CPU float logits whose class planes are
/// contiguous are read in one pass without a copy; other logits are converted `slab` D-slices at a
/// time, so CUDA or float16 logits never exist whole as float32 on the host.
torch::Tensor argmax_labels(const torch::Tensor& logits, int64_t slab = 8);

}  // namespace gtgm::infer
