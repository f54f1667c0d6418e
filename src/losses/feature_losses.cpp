#include "gtgm/losses/feature_losses.h"

#include "gtgm/core/error.h"
#include "gtgm/dist/collectives.h"

namespace gtgm::losses {
namespace {

namespace F = torch::nn::functional;

void check_views(const torch::Tensor& a, const torch::Tensor& b, const char* what, int64_t min_rows) {
  GTGM_CHECK(a.defined() && b.defined(), "{}: both views must be defined", what);
  GTGM_CHECK(a.dim() == 2 && a.sizes() == b.sizes(), "{}: expected two [N, D] embeddings of the same shape, got {} and {}",
             what, a.sizes(), b.sizes());
  GTGM_CHECK(a.size(0) >= min_rows && a.size(1) >= 1, "{}: needs at least {} row(s) per rank, got shape {}", what,
             min_rows, a.sizes());
}

torch::Tensor to_float(const torch::Tensor& x) {
  return x.scalar_type() == torch::kFloat64 ? x : x.to(torch::kFloat32);
}

bool distributed(const dist::Context* ctx) { return ctx != nullptr && ctx->distributed(); }

// Sum of squares of the off-diagonal entries of a square matrix.
torch::Tensor off_diagonal_sq_sum(const torch::Tensor& m) {
  return m.pow(2).sum() - m.diagonal().pow(2).sum();
}

// C [D, D] over the global batch by gathering the embeddings (or locally for one process).
torch::Tensor cross_correlation_gathered(torch::Tensor z1, torch::Tensor z2, const BarlowOptions& o) {
  const double n = static_cast<double>(z1.size(0));
  if (o.standardize) {
    auto standardize = [&](const torch::Tensor& z) {
      const torch::Tensor mean = z.mean(0, /*keepdim=*/true);
      const torch::Tensor var = (z - mean).pow(2).mean(0, /*keepdim=*/true);
      return (z - mean) / (var + o.eps).sqrt();
    };
    z1 = standardize(z1);
    z2 = standardize(z2);
  }
  return torch::matmul(z1.t(), z2) / n;
}

// The same with all-reduced statistics: mean (1 collective for both views), centred squares
// (1), cross-correlation (1). Each rank holds local rows; equal row counts across ranks.
torch::Tensor cross_correlation_allreduce(torch::Tensor z1, torch::Tensor z2, const BarlowOptions& o,
                                          const dist::Context& ctx) {
  const double n = static_cast<double>(z1.size(0)) * ctx.world_size();
  if (o.standardize) {
    const torch::Tensor sums = dist::all_reduce_sum_with_grad(torch::stack({z1.sum(0), z2.sum(0)}), ctx);  // [2, D]
    const torch::Tensor mean1 = sums[0] / n, mean2 = sums[1] / n;
    const torch::Tensor c1 = z1 - mean1, c2 = z2 - mean2;
    const torch::Tensor sq = dist::all_reduce_sum_with_grad(torch::stack({c1.pow(2).sum(0), c2.pow(2).sum(0)}), ctx);
    z1 = c1 / (sq[0] / n + o.eps).sqrt();
    z2 = c2 / (sq[1] / n + o.eps).sqrt();
  }
  return dist::all_reduce_sum_with_grad(torch::matmul(z1.t(), z2), ctx) / n;
}

}  // namespace

torch::Tensor barlow_cross_correlation(const torch::Tensor& z1_in, const torch::Tensor& z2_in,
                                       const BarlowOptions& options, const dist::Context* ctx) {
  check_views(z1_in, z2_in, "barlow_twins_loss", 1);
  GTGM_CHECK(options.eps >= 0 && options.lambda >= 0, "barlow_twins_loss: lambda and eps must be >= 0");
  const torch::Tensor z1 = to_float(z1_in), z2 = to_float(z2_in);
  if (!distributed(ctx)) {
    if (options.standardize) {
      GTGM_CHECK(z1.size(0) >= 2, "barlow_twins_loss: standardisation needs a batch of at least 2, got shape {}",
                 z1.sizes());
    }
    return cross_correlation_gathered(z1, z2, options);
  }
  BarlowComm comm = options.comm;
  if (comm == BarlowComm::Auto) {
    comm = 2 * z1.size(0) * ctx->world_size() < z1.size(1) ? BarlowComm::Gather : BarlowComm::AllReduce;
  }
  if (comm == BarlowComm::Gather) {
    return cross_correlation_gathered(dist::all_gather_with_grad(z1, *ctx), dist::all_gather_with_grad(z2, *ctx),
                                      options);
  }
  return cross_correlation_allreduce(z1, z2, options, *ctx);
}

torch::Tensor barlow_twins_loss(const torch::Tensor& z1, const torch::Tensor& z2, const BarlowOptions& options,
                                const dist::Context* ctx) {
  const torch::Tensor c = barlow_cross_correlation(z1, z2, options, ctx);
  const torch::Tensor on_diag = (1.0 - c.diagonal()).pow(2).sum();
  const torch::Tensor loss = on_diag + options.lambda * off_diagonal_sq_sum(c);
  return options.standardize ? loss : loss * 0.5;
}

torch::Tensor vicreg_loss(const torch::Tensor& z1_in, const torch::Tensor& z2_in, const VicregOptions& o,
                          const dist::Context* ctx) {
  check_views(z1_in, z2_in, "vicreg_loss", 1);
  torch::Tensor x = to_float(z1_in), y = to_float(z2_in);
  if (distributed(ctx)) {
    x = dist::all_gather_with_grad(x, *ctx);
    y = dist::all_gather_with_grad(y, *ctx);
  }
  const int64_t n = x.size(0), d = x.size(1);
  GTGM_CHECK(n >= 2, "vicreg_loss: needs a (global) batch of at least 2, got {}", n);
  const torch::Tensor repr = F::mse_loss(x, y);
  x = x - x.mean(0);
  y = y - y.mean(0);
  const torch::Tensor std_x = (x.pow(2).sum(0) / (n - 1) + o.eps).sqrt();
  const torch::Tensor std_y = (y.pow(2).sum(0) / (n - 1) + o.eps).sqrt();
  const torch::Tensor std_loss = torch::relu(1.0 - std_x).mean() * 0.5 + torch::relu(1.0 - std_y).mean() * 0.5;
  const torch::Tensor cov_x = torch::matmul(x.t(), x) / static_cast<double>(n - 1);
  const torch::Tensor cov_y = torch::matmul(y.t(), y) / static_cast<double>(n - 1);
  const torch::Tensor cov_loss = (off_diagonal_sq_sum(cov_x) + off_diagonal_sq_sum(cov_y)) / static_cast<double>(d);
  return o.sim_weight * repr + o.std_weight * std_loss + o.cov_weight * cov_loss;
}

namespace {
torch::Tensor cosine(const torch::Tensor& p, const torch::Tensor& z) {
  const auto opts = F::NormalizeFuncOptions().p(2).dim(1).eps(1e-12);
  return (F::normalize(to_float(p), opts) * F::normalize(to_float(z.detach()), opts)).sum(1);
}
}  // namespace

torch::Tensor byol_loss(const torch::Tensor& p1, const torch::Tensor& p2, const torch::Tensor& z1,
                        const torch::Tensor& z2) {
  check_views(p1, p2, "byol_loss", 1);
  check_views(z1, z2, "byol_loss", 1);
  GTGM_CHECK(p1.sizes() == z1.sizes(), "byol_loss: predictions {} and targets {} differ in shape", p1.sizes(), z1.sizes());
  return ((2.0 - 2.0 * cosine(p1, z2)) + (2.0 - 2.0 * cosine(p2, z1))).mean();
}

torch::Tensor simsiam_loss(const torch::Tensor& p1, const torch::Tensor& p2, const torch::Tensor& z1,
                           const torch::Tensor& z2) {
  check_views(p1, p2, "simsiam_loss", 1);
  check_views(z1, z2, "simsiam_loss", 1);
  GTGM_CHECK(p1.sizes() == z1.sizes(), "simsiam_loss: predictions {} and targets {} differ in shape", p1.sizes(),
             z1.sizes());
  return -(cosine(p1, z2).mean() + cosine(p2, z1).mean()) * 0.5;
}

}  // namespace gtgm::losses
