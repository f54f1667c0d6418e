#pragma once
/// Exact Euclidean distance transform with anisotropic voxel spacing (Felzenszwalb & Huttenlocher,
/// "Distance Transforms of Sampled Functions", 2012): separable, one 1-D lower-envelope pass per
/// axis, O(N) per pass. Used by the surface metrics (HD95, NSD) and by the EM watershed seeds.
#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace gtgm::infer {

/// Squared distance from every voxel to the nearest feature voxel, in physical units squared.
/// `features` has `shape` = {D, H, W} voxels in C order (W fastest); nonzero marks a feature.
/// `spacing_dhw` is the voxel size along D, H, W. `out` receives D*H*W values; voxels of an image
/// without any feature get +inf. Distances are between voxel centres (as scipy's
/// distance_transform_edt with `sampling`).
void squared_distance_to_features(const uint8_t* features, const std::array<int64_t, 3>& shape,
                                  const std::array<double, 3>& spacing_dhw, double* out);

/// Distance (not squared) from each voxel of `features` [D, H, W] (bool or any integer dtype,
/// nonzero = feature) to the nearest feature voxel. Returns [D, H, W] float64 on CPU; +inf when
/// there is no feature. scipy equivalent: distance_transform_edt(features == 0, sampling=spacing).
torch::Tensor distance_to_features(const torch::Tensor& features, const std::array<double, 3>& spacing_dhw);

}  // namespace gtgm::infer
