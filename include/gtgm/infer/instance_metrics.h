#pragma once
/// Instance (neuron) segmentation metrics as the CREMI challenge evaluates them
/// (cremi_python/cremi/evaluation/{voi,rand}.py). Inputs are label volumes of any shape with an
/// integer dtype; `pred` and `ref` must have the same shape. See docs/metrics.md.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gtgm::infer {

/// Variation of information split into its two conditional entropies, in bits (log base 2, as
/// CREMI's code). split = H(pred | ref) (over-segmentation), merge = H(ref | pred)
/// (under-segmentation). Lower is better; 0 for identical partitions.
struct VoiResult {
  double split = 0;
  double merge = 0;
  double total() const { return split + merge; }
};

/// VOI over the voxels whose reference label is not in `ref_ignore` (CREMI ignores reference
/// background 0; prediction label 0 is an ordinary segment there). NaN when no voxel is left.
VoiResult variation_of_information(const torch::Tensor& pred, const torch::Tensor& ref,
                                   const std::vector<int64_t>& ref_ignore = {0});

/// Adapted Rand error, precision and recall (SNEMI3D / CREMI definition).
struct RandResult {
  double error = 0;
  double precision = 0;
  double recall = 0;
};

/// Adapted Rand error exactly as CREMI's adapted_rand_error: reference voxels labelled with a
/// value in `ref_ignore` are left out; prediction label 0 inside the reference foreground counts as
/// unassigned (each voxel its own segment, entering the sums with weight 1/N where N is the number
/// of voxels of the whole volume; this mirrors the SNEMI3D script CREMI took over). NaN when the
/// reference has no foreground.
RandResult adapted_rand_error(const torch::Tensor& pred, const torch::Tensor& ref,
                              const std::vector<int64_t>& ref_ignore = {0});

}  // namespace gtgm::infer
