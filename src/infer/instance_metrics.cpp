#include "gtgm/infer/instance_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "gtgm/core/error.h"
#include "shape_util.h"

namespace gtgm::infer {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct PairHash {
  size_t operator()(const std::pair<int64_t, int64_t>& p) const {
    // splitmix-style mix of both labels
    uint64_t x = static_cast<uint64_t>(p.first) * 0x9E3779B97F4A7C15ULL ^
                 (static_cast<uint64_t>(p.second) + 0x632BE59BD9B4E019ULL);
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    return static_cast<size_t>(x ^ (x >> 29));
  }
};

// Sparse contingency table of (pred label, ref label) voxel counts over the voxels whose reference
// label is not ignored, plus per-label marginals.
struct Contingency {
  std::unordered_map<std::pair<int64_t, int64_t>, double, PairHash> joint;
  std::unordered_map<int64_t, double> pred_counts, ref_counts;
  double total = 0;    // voxels counted
  int64_t voxels = 0;  // all voxels, ignored ones included
};

torch::Tensor as_int64(const torch::Tensor& t, const char* what, const char* role) {
  GTGM_CHECK(!t.is_floating_point() && !t.is_complex(), "{}: {} labels must have an integer dtype, got {}", what, role,
             c10::toString(t.scalar_type()));
  return t.to(torch::kCPU).to(torch::kInt64).contiguous();
}

Contingency contingency(const torch::Tensor& pred, const torch::Tensor& ref, const std::vector<int64_t>& ref_ignore,
                        const char* what) {
  GTGM_CHECK(pred.defined() && ref.defined(), "{}: prediction or reference tensor is undefined", what);
  GTGM_CHECK(pred.sizes() == ref.sizes(), "{}: prediction has shape {} but reference has shape {}", what,
             detail::shape_of(pred), detail::shape_of(ref));
  torch::Tensor p = as_int64(pred, what, "prediction"), r = as_int64(ref, what, "reference");
  const int64_t* pp = p.data_ptr<int64_t>();
  const int64_t* rp = r.data_ptr<int64_t>();
  Contingency c;
  c.voxels = p.numel();
  // Neighbouring voxels usually share both labels: count runs and touch the hash map once per run.
  std::pair<int64_t, int64_t> current{0, 0};
  double run = 0;
  auto flush = [&c, &current, &run] {
    if (run > 0) c.joint[current] += run;
    run = 0;
  };
  for (int64_t i = 0; i < c.voxels; ++i) {
    if (std::find(ref_ignore.begin(), ref_ignore.end(), rp[i]) != ref_ignore.end()) continue;
    std::pair<int64_t, int64_t> key{pp[i], rp[i]};
    if (key != current) {
      flush();
      current = key;
    }
    run += 1;
  }
  flush();
  for (const auto& [key, n] : c.joint) {
    c.pred_counts[key.first] += n;
    c.ref_counts[key.second] += n;
    c.total += n;
  }
  return c;
}

}  // namespace

VoiResult variation_of_information(const torch::Tensor& pred, const torch::Tensor& ref,
                                   const std::vector<int64_t>& ref_ignore) {
  Contingency c = contingency(pred, ref, ref_ignore, "variation_of_information");
  if (c.total == 0) return {kNaN, kNaN};
  // H(X|Y) = -sum_xy p_xy log2(p_xy / p_y) with X = pred, Y = ref; H(Y|X) likewise.
  double split = 0, merge = 0;
  for (const auto& [key, n] : c.joint) {
    const double pxy = n / c.total;
    split -= pxy * std::log2(n / c.ref_counts.at(key.second));
    merge -= pxy * std::log2(n / c.pred_counts.at(key.first));
  }
  // -0.0 -> 0.0 for identical partitions
  return {split + 0.0, merge + 0.0};
}

RandResult adapted_rand_error(const torch::Tensor& pred, const torch::Tensor& ref,
                              const std::vector<int64_t>& ref_ignore) {
  Contingency c = contingency(pred, ref, ref_ignore, "adapted_rand_error");
  if (c.total == 0) return {kNaN, kNaN, kNaN};
  // CREMI/SNEMI3D: A = reference (foreground rows only), B = prediction without its column 0.
  double sum_a = 0, sum_b = 0, sum_ab = 0, unassigned = 0;
  for (const auto& [label, n] : c.ref_counts) sum_a += n * n;
  for (const auto& [label, n] : c.pred_counts)
    if (label != 0) sum_b += n * n;
  for (const auto& [key, n] : c.joint) {
    if (key.first == 0)
      unassigned += n;
    else
      sum_ab += n * n;
  }
  const double n_all = static_cast<double>(c.voxels);
  sum_b += unassigned / n_all;
  sum_ab += unassigned / n_all;
  RandResult r;
  r.precision = sum_ab / sum_b;
  r.recall = sum_ab / sum_a;
  r.error = 1.0 - 2.0 * r.precision * r.recall / (r.precision + r.recall);
  return r;
}

}  // namespace gtgm::infer
