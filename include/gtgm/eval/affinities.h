#pragma once
/// Nearest-neighbour affinities of EM neuron labels: defined in gtgm/losses/affinity_targets.h
/// (train/ computes them as targets and may not include eval/); forwarded here for eval code.
#include "gtgm/losses/affinity_targets.h"

namespace gtgm::eval {

using losses::affinities_from_labels;
using losses::affinity_valid_mask;

}  // namespace gtgm::eval
