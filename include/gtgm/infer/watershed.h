#pragma once
/// EM instance segmentation from predicted affinities (layout: gtgm/infer/affinities.h).
/// Affinities are quantised to 256 levels (level = round(255 * affinity); uint8 input is taken as
/// levels), so the host holds 3 bytes per voxel and the flood uses a bucket queue.
///  1. fragments: seeded watershed on the voxel grid. A voxel is interior when every affinity of its
///     (up to 6) edges exceeds `seed_threshold`; seeds are the regional maxima (plateaus connected
///     through edges above `seed_threshold`) of the Euclidean distance from interior voxels to the
///     nearest non-interior voxel (anisotropic `spacing_dhw`). From the seeds, a priority flood
///     labels voxels across edges in decreasing affinity level (first-in first-out within a level,
///     so the result is deterministic). Voxels whose
///     largest edge affinity is below `background_threshold` are background (0) and never flooded;
///     a group of voxels no seed reaches gets a fragment of its own.
///  2. agglomeration: region adjacency graph of the fragments; each edge scores the mean affinity of
///     the voxel edges between the two fragments (or, with AffinityMerge::Median, their median:
///     waterz's HistogramQuantileProvider<50, 256 bins>: the first level whose cumulative count
///     reaches 50 * count / 100 + 1 (integer division), divided by 255). The highest-scoring pair is
///     merged (union-find, scores of the merged region's edges recomputed from summed affinities
///     and counts, or summed histograms) while the best score is > `merge_threshold` (0.5, the
///     paper's CREMI protocol).
/// Objects thinner than 3 voxels along some axis have no interior voxel and so no seed of their
/// own: they are flooded from a neighbour and can only be recovered if they are separated from it
/// by background.
#include <torch/torch.h>

#include <array>
#include <cstdint>

#include "gtgm/config/finetune_config.h"

namespace gtgm::infer {

struct WatershedOptions {
  double seed_threshold = 0.5;                       ///< interior: all incident affinities > this
  double background_threshold = 0.0;                 ///< voxels with max incident affinity < this stay 0 (0 = off)
  double merge_threshold = 0.5;                      ///< agglomerate while the best edge score > this
  config::AffinityMerge merge = config::AffinityMerge::Mean;  ///< edge score: mean or median affinity
  std::array<double, 3> spacing_dhw{1.0, 1.0, 1.0};  ///< voxel size (D, H, W) for the seed distance map
};

/// Watershed fragments of affinities [3, D, H, W] (floating in [0, 1], or uint8 levels; any
/// device): [D, H, W] int64,
/// fragments numbered 1..F in raster order of their seeds, background 0.
torch::Tensor watershed_fragments(const torch::Tensor& affinities, const WatershedOptions& options = {});

/// Mean- (or median-) affinity agglomeration of `fragments` [D, H, W] (integer, 0 = background,
/// left alone) over `affinities` [3, D, H, W]. Returns [D, H, W] int64 labelled 1..N in raster
/// order of first appearance, background 0.
torch::Tensor agglomerate(const torch::Tensor& fragments, const torch::Tensor& affinities,
                          double merge_threshold = 0.5, config::AffinityMerge merge = config::AffinityMerge::Mean);

/// waterz's HistogramQuantileProvider<Q, 256>::value() of a histogram of affinity levels
/// (`histogram[l]` = voxel edges at level l): the first level whose cumulative count reaches
/// Q * total / 100 + 1, divided by 255 (NaN for an empty histogram).
double histogram_quantile(const std::array<uint32_t, 256>& histogram, int quantile);

/// watershed_fragments followed by agglomerate: instance labels [D, H, W] int64.
torch::Tensor segment_affinities(const torch::Tensor& affinities, const WatershedOptions& options = {});

}  // namespace gtgm::infer
