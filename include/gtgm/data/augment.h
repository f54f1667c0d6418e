#pragma once
/// Batched augmentations. Random parameters are drawn per sample on the host (from the sample's
/// own Rng, so they do not depend on where or in which batch the sample is augmented); the
/// voxel work is a few tensor ops over the whole batch on the batch's device (CPU in loader
/// workers, or the GPU).
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/data/rng.h"

namespace gtgm::data {

/// The one perturbation of a pretraining view (PAPER.md).
/// `None` (never drawn) leaves the view as cropped: loaders use it when augmentation is off.
enum class PretrainOp : int { Rescale = 0, Flip = 1, Intensity = 2, Noise = 3, Blur = 4, None = 5 };

/// Parameters of one pretraining view.
struct PretrainViewParams {
  std::array<int, 3> perm{0, 1, 2};               ///< spatial transpose: new axis a = old axis perm[a] (D, H, W)
  std::array<bool, 3> flip{false, false, false};  ///< spatial flips (after the transpose)
  PretrainOp op = PretrainOp::None;
  double zoom = 1.0;      ///< Rescale: content magnified by this (> 1 zooms in)
  int flip_axis = 0;      ///< Flip: axis 0..2 (D, H, W)
  double contrast = 1.0;  ///< Intensity: x * contrast + brightness, then clipped to [0, 1]
  double brightness = 0.0;
  double noise_std = 0.0;  ///< Noise
  uint64_t noise_seed = 0;
  int blur_kernel = 3;                        ///< Blur: odd kernel size
  double blur_sigma = 0.0;                    ///< Blur: sigma in voxels (scaled per axis by `axis_scale`)
  std::array<double, 3> axis_scale{1, 1, 1};  ///< finest spacing / spacing per axis (EM: z blurs less)
};

/// Which axes may be swapped: those with equal crop size and (within 5%) equal spacing.
/// `allowed[a][b]` for a != b.
using TransposeMask = std::array<std::array<bool, 3>, 3>;
TransposeMask transpose_mask(const std::array<int64_t, 3>& crop_size, const std::array<double, 3>& spacing_dhw);

/// Draws one view's parameters: random flips per axis and a random permutation of swappable
/// axes (when cfg.transpose), then one perturbation uniformly among the five.
PretrainViewParams draw_pretrain_view(Rng& rng, const config::PretrainAugmentConfig& cfg, const TransposeMask& mask,
                                      const std::array<double, 3>& spacing_dhw);

/// Augments a batch of views x [B, 1, D, H, W] (float, any device): min-max to [0, 1], spatial
/// flips/transposes, the perturbation, min-max to [0, 1]. Returns a new [B, 1, D, H, W] tensor.
/// On CUDA this is augment_pretrain_tensor_ops; on the CPU the same maths runs as fused
/// per-sample loops (equal to the tensor ops up to float rounding; noise is bit-identical).
torch::Tensor augment_pretrain(const torch::Tensor& x, const std::vector<PretrainViewParams>& params);
/// The batched tensor-op implementation (grid_sample zoom, grouped conv3d blur, ...).
torch::Tensor augment_pretrain_tensor_ops(const torch::Tensor& x, const std::vector<PretrainViewParams>& params);

/// Parameters of one segmentation sample.
struct SegSampleParams {
  std::array<bool, 3> flip{false, false, false};
  int rot90 = 0;                   ///< quarter turns in the (H, W) plane
  double zoom = 1.0;               ///< != 1: isotropic scaling (image trilinear, label nearest)
  double mult = 1.0, shift = 0.0;  ///< intensity x * mult + shift
  double gamma = 1.0;              ///< != 1: gamma on the sample's [min, max] range
  double noise_std = 0.0;
  uint64_t noise_seed = 0;
  double blur_sigma = 0.0;  ///< > 0: Gaussian blur (voxels, scaled per axis by axis_scale)
  std::array<double, 3> axis_scale{1, 1, 1};
};

/// Draws one segmentation sample's parameters from the configured probabilities.
/// Rotations by 90/270 degrees need H == W (otherwise only 180 is drawn).
SegSampleParams draw_seg_params(Rng& rng, const config::SegAugmentConfig& cfg, const std::array<int64_t, 3>& patch,
                                const std::array<double, 3>& spacing_dhw);

/// Augments image [B, C, D, H, W] (float) and label [B, 1, D, H, W] (int64) with the same
/// spatial transform; intensity transforms touch the image only. Returns new tensors.
/// CUDA: augment_seg_tensor_ops; CPU: fused per-sample loops computing the same.
std::pair<torch::Tensor, torch::Tensor> augment_seg(const torch::Tensor& image, const torch::Tensor& label,
                                                    const std::vector<SegSampleParams>& params);
/// The batched tensor-op implementation.
std::pair<torch::Tensor, torch::Tensor> augment_seg_tensor_ops(const torch::Tensor& image, const torch::Tensor& label,
                                                               const std::vector<SegSampleParams>& params);

/// Separable Gaussian blur of x [B, C, D, H, W] with a per-sample sigma (voxels) and odd kernel
/// size per axis (`sigma_dhw[b]`, `kernel[b]`), replicate padding. sigma 0 leaves a sample as is.
torch::Tensor gaussian_blur(const torch::Tensor& x, const std::vector<std::array<double, 3>>& sigma_dhw,
                            const std::vector<int>& kernel);

/// A torch generator on `device` seeded with `seed` (CPU: a fresh CPU generator; CUDA: a clone of
/// the device's default generator, reseeded), for per-sample noise that does not depend on other
/// samples or on the global RNG.
at::Generator make_generator(const torch::Device& device, uint64_t seed);

}  // namespace gtgm::data
