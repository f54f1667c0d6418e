#pragma once
/// Nearest-neighbour affinities of EM neuron labels: the targets of the CREMI affinity task
/// (train::AffinityTask) and the layout of the watershed input (infer/watershed.h). Channel c of an
/// affinity volume [3, D, H, W] holds, at voxel v, the affinity between v and its previous
/// neighbour v - e_c along axis c (c = 0: D/z, 1: H/y, 2: W/x), as gunpowder's AddAffinities with
/// offsets (-1,0,0), (0,-1,0), (0,0,-1). The first slice of each axis has no previous neighbour:
/// its affinity is 0 and its mask is 0.
#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace gtgm::infer {

/// Affinities from instance labels [D, H, W] (integer dtype): 1 where v and its neighbour carry the
/// same label and that label is not `background`, else 0 (so boundaries between neurons and every
/// edge touching background are 0, as CREMI treats label 0). Returns [3, D, H, W] float.
torch::Tensor affinities_from_labels(const torch::Tensor& labels, int64_t background = 0);

/// Which affinities are defined (the neighbour lies inside the volume): [3, D, H, W] float, 1 or 0.
torch::Tensor affinity_valid_mask(const std::array<int64_t, 3>& shape);

}  // namespace gtgm::infer
