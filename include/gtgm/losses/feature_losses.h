#pragma once
/// Feature-wise (negative-free) losses between two views' embeddings: Barlow Twins (the GTGM
/// L_VR), VICReg, and the BYOL / SimSiam regression losses. Barlow Twins and VICReg use batch
/// statistics; with a distributed context they are computed over the GLOBAL batch, so the loss
/// equals the single-process loss on the concatenated batch (every rank must pass the same B).
#include <torch/torch.h>

#include "gtgm/dist/context.h"

namespace gtgm::losses {

/// How Barlow Twins gets global statistics when distributed.
enum class BarlowComm {
  Auto,       // Gather when 2 * global batch < dim (cheaper), else AllReduce
  Gather,     // all_gather the embeddings [N, D] (with gradient) and compute as one process
  AllReduce,  // all-reduce the per-dim mean, variance and the D x D cross-correlation (with gradient)
};

struct BarlowOptions {
  double lambda = 0.0051;     // off-diagonal weight (paper)
  bool standardize = true;    // per-dimension batch standardisation (BatchNorm without affine)
  double eps = 1e-5;          // variance epsilon of the standardisation (BatchNorm's)
  BarlowComm comm = BarlowComm::Auto;
};

/// Barlow Twins. z1, z2 [N, D]. standardize: z <- (z - mean) / sqrt(var_biased + eps) per dim
/// over the (global) batch, C = z1^T z2 / N, L = sum_i (1 - C_ii)^2 + lambda * sum_{i!=j} C_ij^2.
/// standardize=false: the reference code's variant, C = z1^T z2 / N on raw features and L / 2.
/// Returns [] scalar (float32).
torch::Tensor barlow_twins_loss(const torch::Tensor& z1, const torch::Tensor& z2, const BarlowOptions& options = {},
                                const dist::Context* ctx = nullptr);

/// The cross-correlation matrix alone [D, D] (for monitoring); same options.
torch::Tensor barlow_cross_correlation(const torch::Tensor& z1, const torch::Tensor& z2,
                                       const BarlowOptions& options = {}, const dist::Context* ctx = nullptr);

struct VicregOptions {
  double sim_weight = 25.0;  // invariance: MSE(z1, z2)
  double std_weight = 25.0;  // variance: mean relu(1 - sqrt(var + eps)) per view, halved
  double cov_weight = 1.0;   // covariance: sum of squared off-diagonal covariances / D per view
  double eps = 1e-4;
};

/// VICReg (Bardes et al. 2022), z1, z2 [N, D], N >= 2 over the (global) batch. Returns [] scalar.
torch::Tensor vicreg_loss(const torch::Tensor& z1, const torch::Tensor& z2, const VicregOptions& options = {},
                          const dist::Context* ctx = nullptr);

/// BYOL's symmetric regression loss: mean over the batch of (2 - 2 cos(p1, z2)) + (2 - 2 cos(p2, z1)),
/// with the targets z1, z2 [N, D] detached (they come from the EMA target network). p1, p2 [N, D].
torch::Tensor byol_loss(const torch::Tensor& p1, const torch::Tensor& p2, const torch::Tensor& z1,
                        const torch::Tensor& z2);

/// SimSiam's symmetric loss: -(cos(p1, sg(z2)) + cos(p2, sg(z1))) / 2, batch mean, in [-1, 1].
torch::Tensor simsiam_loss(const torch::Tensor& p1, const torch::Tensor& p2, const torch::Tensor& z1,
                           const torch::Tensor& z2);

}  // namespace gtgm::losses
