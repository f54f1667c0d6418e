#include "gtgm/infer/representation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "gtgm/core/error.h"
#include "gtgm/infer/stats.h"

namespace gtgm::infer {

namespace {

torch::Tensor unit_rows(const torch::Tensor& x) {
  const auto d = x.to(torch::kCPU, torch::kDouble);
  return d / d.norm(2, {1}, true).clamp_min(1e-12);
}

// Sample standard deviation (n - 1) of each column of a double [N, E] matrix.
torch::Tensor column_sd(const torch::Tensor& x) {
  const auto centred = x - x.mean(0, true);
  return (centred.pow(2).sum(0) / static_cast<double>(x.size(0) - 1)).sqrt();
}

// Rank positions: order of `scores` (one row) descending, ties by the lower index first.
std::vector<int64_t> ranking(const torch::Tensor& row) {
  const auto acc = row.accessor<double, 1>();
  std::vector<int64_t> order(static_cast<size_t>(row.size(0)));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return acc[a] > acc[b]; });
  return order;
}

// 1 - C(n - m, k) / C(n, k): the chance that k of n drawn without replacement include one of m.
double chance_any(int64_t n, int64_t m, int64_t k) {
  if (k >= n || m == 0) return m == 0 ? 0.0 : 1.0;
  double none = 1.0;
  for (int64_t i = 0; i < k; ++i) none *= static_cast<double>(n - m - i) / static_cast<double>(n - i);
  return 1.0 - std::max(none, 0.0);
}

}  // namespace

RetrievalResult retrieval(const torch::Tensor& image_emb, const torch::Tensor& caption_emb,
                          const torch::Tensor& caption_of, const std::vector<int64_t>& ks) {
  GTGM_CHECK(image_emb.dim() == 2 && caption_emb.dim() == 2 && image_emb.size(1) == caption_emb.size(1),
             "retrieval: image embeddings {} and caption embeddings {} must be [N, E] and [U, E]", image_emb.sizes(),
             caption_emb.sizes());
  GTGM_CHECK(caption_of.dim() == 1 && caption_of.size(0) == image_emb.size(0),
             "retrieval: caption_of {} must hold one caption index per image ({})", caption_of.sizes(),
             image_emb.size(0));
  GTGM_CHECK(image_emb.size(0) > 0 && caption_emb.size(0) > 0, "retrieval: no images or no captions");
  const int64_t n = image_emb.size(0), u = caption_emb.size(0);
  const auto cap = caption_of.to(torch::kCPU, torch::kLong).contiguous();
  const auto c = cap.accessor<int64_t, 1>();
  std::vector<int64_t> count(static_cast<size_t>(u), 0);
  for (int64_t i = 0; i < n; ++i) {
    GTGM_CHECK(c[i] >= 0 && c[i] < u, "retrieval: image {} names caption {} (expected 0..{})", i, c[i], u - 1);
    ++count[static_cast<size_t>(c[i])];
  }
  const auto sim = torch::mm(unit_rows(image_emb), unit_rows(caption_emb).t()).contiguous();  // [N, U]
  const auto sim_t = sim.t().contiguous();
  RetrievalResult r;
  r.ks = ks;
  r.images = n;
  r.captions = u;
  std::vector<int64_t> used;
  for (int64_t j = 0; j < u; ++j)
    if (count[static_cast<size_t>(j)] > 0) used.push_back(j);
  for (int64_t k : ks) {
    GTGM_CHECK(k >= 1, "retrieval: k = {} (expected >= 1)", k);
    int64_t hits = 0;
    for (int64_t i = 0; i < n; ++i) {
      const auto order = ranking(sim[i]);
      const auto top = std::min<int64_t>(k, u);
      hits += std::find(order.begin(), order.begin() + top, c[i]) != order.begin() + top;
    }
    r.image_to_text.push_back(static_cast<double>(hits) / static_cast<double>(n));
    r.image_to_text_chance.push_back(static_cast<double>(std::min(k, u)) / static_cast<double>(u));
    int64_t t_hits = 0;
    double chance = 0;
    for (int64_t j : used) {
      const auto order = ranking(sim_t[j]);
      const auto top = std::min<int64_t>(k, n);
      t_hits += std::any_of(order.begin(), order.begin() + top, [&](int64_t i) { return c[i] == j; });
      chance += chance_any(n, count[static_cast<size_t>(j)], k);
    }
    r.text_to_image.push_back(static_cast<double>(t_hits) / static_cast<double>(used.size()));
    r.text_to_image_chance.push_back(chance / static_cast<double>(used.size()));
  }
  return r;
}

LinearProbeResult linear_probe(const torch::Tensor& features, const torch::Tensor& labels,
                               const LinearProbeOptions& options) {
  GTGM_CHECK(features.dim() == 2 && labels.dim() == 1 && labels.size(0) == features.size(0),
             "linear probe: features {} must be [N, F] with one label each (labels {})", features.sizes(),
             labels.sizes());
  const int64_t n = features.size(0);
  GTGM_CHECK(n >= 4, "linear probe: {} samples (expected at least 4)", n);
  GTGM_CHECK(options.train_fraction > 0 && options.train_fraction < 1,
             "linear probe: train_fraction {} (expected a fraction in (0, 1))", options.train_fraction);
  GTGM_CHECK(options.steps >= 1, "linear probe: {} steps (expected >= 1)", options.steps);
  // Class ids -> 0..C-1 in increasing order.
  const auto lab = labels.to(torch::kCPU, torch::kLong).contiguous();
  std::map<int64_t, int64_t> index;
  for (int64_t i = 0; i < n; ++i) index.emplace(lab[i].item<int64_t>(), 0);
  GTGM_CHECK(index.size() >= 2, "linear probe: every sample has label {} (expected at least 2 classes)",
             index.begin()->first);
  int64_t next = 0;
  for (auto& [k, v] : index) v = next++;
  auto y = torch::empty({n}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) y[i] = index.at(lab[i].item<int64_t>());

  // A seeded shuffle (splitmix64, Fisher-Yates) split into train and test.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  uint64_t state = options.seed;
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)], order[splitmix64_next(state) % static_cast<uint64_t>(i + 1)]);
  const int64_t n_train = std::clamp<int64_t>(std::llround(options.train_fraction * n), 1, n - 1);
  const auto perm = torch::tensor(order, torch::kLong);
  const auto tr = perm.slice(0, 0, n_train), te = perm.slice(0, n_train);

  const auto x = features.to(torch::kCPU, torch::kDouble);
  const auto mu = x.index_select(0, tr).mean(0, true);
  const auto sd = column_sd(x.index_select(0, tr)).unsqueeze(0).clamp_min(1e-8);
  const auto z = (x - mu) / sd;
  const auto x_tr = z.index_select(0, tr), x_te = z.index_select(0, te);
  const auto y_tr = y.index_select(0, tr), y_te = y.index_select(0, te);
  const int64_t classes = static_cast<int64_t>(index.size());

  auto w = torch::zeros({x.size(1), classes}, torch::kDouble).requires_grad_(true);
  auto b = torch::zeros({classes}, torch::kDouble).requires_grad_(true);
  torch::optim::LBFGS opt({w, b}, torch::optim::LBFGSOptions(1.0)
                                      .max_iter(static_cast<int>(options.steps))
                                      .tolerance_grad(1e-10)
                                      .tolerance_change(1e-12)
                                      .line_search_fn("strong_wolfe"));
  auto closure = [&]() {
    opt.zero_grad();
    auto loss =
        torch::nn::functional::cross_entropy(torch::mm(x_tr, w) + b, y_tr) + options.weight_decay * w.pow(2).sum();
    loss.backward();
    return loss;
  };
  opt.step(closure);
  torch::NoGradGuard no_grad;

  LinearProbeResult r;
  r.train = n_train;
  r.test = n - n_train;
  r.classes = classes;
  r.train_accuracy = (torch::mm(x_tr, w) + b).argmax(1).eq(y_tr).to(torch::kDouble).mean().item<double>();
  r.test_accuracy = (torch::mm(x_te, w) + b).argmax(1).eq(y_te).to(torch::kDouble).mean().item<double>();
  const auto freq = torch::bincount(y_tr, {}, classes);
  const int64_t majority = freq.argmax().item<int64_t>();
  r.majority_baseline = y_te.eq(majority).to(torch::kDouble).mean().item<double>();
  return r;
}

double effective_rank(const torch::Tensor& x) {
  GTGM_CHECK(x.dim() == 2 && x.numel() > 0, "effective rank: expected a non-empty [N, E] matrix, got {}", x.sizes());
  const auto s = torch::linalg_svdvals(x.to(torch::kCPU, torch::kDouble));
  const double total = s.sum().item<double>();
  if (total <= 0) return 0.0;
  const auto p = s / total;
  const auto nz = p.masked_select(p > 0);
  return std::exp(-(nz * nz.log()).sum().item<double>());
}

SpreadSummary dimension_spread(const torch::Tensor& x, double dead_below) {
  GTGM_CHECK(x.dim() == 2 && x.size(0) >= 2, "dimension spread: expected [N >= 2, E], got {}", x.sizes());
  const auto sd = column_sd(x.to(torch::kCPU, torch::kDouble)).contiguous();
  auto v = std::vector<double>(sd.data_ptr<double>(), sd.data_ptr<double>() + sd.numel());
  SpreadSummary s;
  s.dims = static_cast<int64_t>(v.size());
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  s.mean = mean(v);
  s.median = percentile_linear(v, 0.5);
  s.dead = std::count_if(v.begin(), v.end(), [&](double d) { return d < dead_below; });
  return s;
}

}  // namespace gtgm::infer
