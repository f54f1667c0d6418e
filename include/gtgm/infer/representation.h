#pragma once
/// Diagnostics of learned embeddings (`gtgm probe`, docs/probe.md): cross-modal retrieval, a
/// linear probe on frozen features, the effective rank and per-dimension spread (collapse check).
/// All on the CPU in float64, deterministic for a given seed.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gtgm::infer {

/// Retrieval between N image embeddings and U distinct caption embeddings; image i's caption is
/// caption_of[i]. Similarity = cosine. image->text: the captions ranked for each image, a hit
/// when its own caption is among the top k. text->image: the images ranked for each caption that
/// some image has, a hit when an image with that caption is among the top k. Ties are broken by
/// index (the lower index ranks first), so identical embeddings do not inflate a score.
struct RetrievalResult {
  std::vector<int64_t> ks;
  std::vector<double> image_to_text;         ///< top-k accuracy per k, in [0, 1]
  std::vector<double> text_to_image;         ///< top-k accuracy per k
  std::vector<double> image_to_text_chance;  ///< expected accuracy of a random ranking: min(k, U) / U
  /// Expected accuracy of a random ranking: the mean over captions of 1 - C(N - m, k) / C(N, k)
  /// (m = images with that caption).
  std::vector<double> text_to_image_chance;
  int64_t images = 0, captions = 0;
};
/// image_emb [N, E], caption_emb [U, E], caption_of [N] int64 in [0, U); throws on shapes/indices.
RetrievalResult retrieval(const torch::Tensor& image_emb, const torch::Tensor& caption_emb,
                          const torch::Tensor& caption_of, const std::vector<int64_t>& ks = {1, 5});

struct LinearProbeOptions {
  double train_fraction = 0.5;  ///< of the samples (shuffled with `seed`), the rest is the test set
  int64_t steps = 300;          ///< full-batch L-BFGS iterations
  double weight_decay = 1e-3;   ///< L2 penalty on the weights (not the bias)
  uint64_t seed = 0;
};
struct LinearProbeResult {
  double train_accuracy = 0, test_accuracy = 0;
  /// Accuracy on the test set of always predicting the most frequent training class.
  double majority_baseline = 0;
  int64_t train = 0, test = 0, classes = 0;
};
/// Multinomial logistic regression of `labels` [N] (any int64 values) from `features` [N, F]
/// (standardised with the training part's mean and sd); throws for N < 4, fewer than 2 classes or
/// mismatched sizes.
LinearProbeResult linear_probe(const torch::Tensor& features, const torch::Tensor& labels,
                               const LinearProbeOptions& options = {});

/// exp(entropy of the singular values normalised to sum 1) of `x` [N, E] as given (not centred;
/// RankMe, Garrido et al. 2023): n for an n x n identity, 1 for a rank-1 matrix; 0 for all-zero x.
double effective_rank(const torch::Tensor& x);

struct SpreadSummary {
  double min = 0, median = 0, mean = 0, max = 0;  ///< of the per-dimension standard deviations (ddof 1)
  int64_t dims = 0;
  int64_t dead = 0;  ///< dimensions with sd < dead_below
};
/// Standard deviation of each column of `x` [N, E] over the N rows, summarised.
SpreadSummary dimension_spread(const torch::Tensor& x, double dead_below = 1e-4);

}  // namespace gtgm::infer
