#pragma once
/// The two pretraining views as the GTGM reference code makes them (data.pretrain_augment.views:
/// reference; docs/pretraining.md, docs/fidelity.md). Per sample, following
/// pretrain/dataloader/data_provider_pretraining_caption_match.py:255-273:
///  1. one crop of D x (H + 2c) x (W + 2c): the crop with c = data.pretrain_augment.context
///     voxels of real in-plane context on each side (reference sub_padding 80, :202-204);
///  2. simple_aug once, shared by both views: with probability 0.5 a rule of four fair bits
///     (z flip, x (W) flip, y (H) flip, H/W transpose; utils/augmentation.py:18-38, 219-244);
///  3. per view, one perturbation uniformly among rescale, flip, intensity, noise, blur
///     (apply_perturbations, :370-448; the enabled set is :161-171 + config/pretraining_all.yaml:99-101);
///     every perturbation but rescale first takes the centre crop;
///  4. per view, min-max to [0, 1] (scaler, :272-273, :328-332).
/// The draws are explicit (RefSampleDraws) and the voxel work is a pure function of the draws
/// (reference_views), which tests/data/test_augment_reference.cpp feeds with fixed draws and
/// compares with scripts/reference/augment_reference.py.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

#include "gtgm/config/data_config.h"
#include "gtgm/data/rng.h"
#include "gtgm/data/samplers.h"

namespace gtgm::data {

/// A view's perturbation (the reference's used_pers 0, 1, 3, 4, 5).
enum class RefPerturbation : int { Rescale = 0, Flip = 1, Intensity = 2, Noise = 3, Blur = 4 };

/// simple_aug's rule, applied in this order: z flip, x (W) flip, y (H) flip, H/W transpose.
using FlipRule = std::array<bool, 4>;

/// One view's draws.
struct RefViewDraws {
  RefPerturbation kind = RefPerturbation::Flip;
  /// Rescale: side of the centred in-plane window (even; Rescale, consistency_aug_perturbations.py:240-252),
  /// resized (bilinear, half-pixel centres as cv2 INTER_LINEAR) back to the crop's H x W.
  int64_t scale_size = 0;
  FlipRule rule{};  ///< Flip: a fresh rule of four fair bits (Filp, :255-262)
  /// Intensity: {contrast, brightness, gamma}: x = clip(x * contrast + brightness, 0, 1)^gamma, one
  /// triple for the whole view (3D) or one per z slice (2D) (Intensity, :288-342).
  std::vector<std::array<double, 3>> intensity;
  double noise_std = 0.0;  ///< Noise: x + noise_std * noise, clipped to [0, 1] (GaussNoise trunc, :111-121)
  int blur_kernel = 3;     ///< Blur: odd in-plane kernel (cv2.GaussianBlur per slice, :123-132)
  double blur_sigma = 0.0; ///< Blur: sigma (<= 0: cv2's default for the kernel size)
  bool intensity_3d = false;
  torch::Tensor noise;  ///< Noise: unit normal field of the view's shape [D, H, W]
};

/// One sample's draws.
struct RefSampleDraws {
  Index3 corner{};   ///< first voxel of the context crop in the volume (negative where the volume is padded)
  FlipRule shared{};  ///< simple_aug's rule for both views (all false when it is skipped)
  std::array<RefViewDraws, 2> views;
};

/// Draws one sample (crop corner, shared rule, each view's perturbation and parameters) from `rng`
/// for a volume of `shape` and a crop of `crop` (needs crop H == W, as the reference's square resize).
RefSampleDraws draw_reference_views(Rng& rng, const config::PretrainAugmentConfig& cfg, const Index3& shape,
                                    const Index3& crop);

/// Checks that the crop and config suit the reference views; the error names the key.
void check_reference_views(const config::PretrainAugmentConfig& cfg, const Index3& crop);

/// The two views [crop D, H, W] (float) of `volume` [D', H', W'] (float, values in [0, 1] as the
/// reference's uint8 / 255) under `draws`: the context crop at draws.corner (which must lie inside
/// the volume), the shared rule, each view's perturbation, min-max. Pure: no random state.
std::array<torch::Tensor, 2> reference_views(const torch::Tensor& volume, const RefSampleDraws& draws,
                                             const Index3& crop, int64_t context);

}  // namespace gtgm::data
