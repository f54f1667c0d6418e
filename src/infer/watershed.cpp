#include "gtgm/infer/watershed.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

#include "gtgm/core/error.h"
#include "gtgm/infer/distance_transform.h"

namespace gtgm::infer {

namespace {

// The voxel grid and its 6 directions: dir 2c is the previous neighbour along axis c, 2c + 1 the
// next one. The affinity of the edge between v and v - e_c is stored at aff[c][v], quantised to
// levels 0..255 (level / 255 = affinity): 3 bytes per voxel on the host, and the bucket queue's key.
struct Grid {
  int64_t size[3];
  int64_t stride[3];
  int64_t n;
  const uint8_t* aff;

  Grid(const torch::Tensor& levels)  // [3, D, H, W] uint8, contiguous, CPU
      : size{levels.size(1), levels.size(2), levels.size(3)},
        stride{levels.size(2) * levels.size(3), levels.size(3), 1},
        n(levels.size(1) * levels.size(2) * levels.size(3)),
        aff(levels.data_ptr<uint8_t>()) {}

  int64_t coord(int64_t v, int c) const { return (v / stride[c]) % size[c]; }

  // Neighbour of v in direction dir, with the affinity of the edge; false outside the volume.
  bool neighbour(int64_t v, int dir, int64_t& u, uint8_t& a) const {
    const int c = dir / 2;
    const int64_t x = coord(v, c);
    if (dir % 2 == 0) {
      if (x == 0) return false;
      u = v - stride[c];
      a = aff[c * n + v];
    } else {
      if (x + 1 >= size[c]) return false;
      u = v + stride[c];
      a = aff[c * n + u];
    }
    return true;
  }
};

// Affinity levels [3, D, H, W] uint8 on the CPU: uint8 input as is, floating input clamped to
// [0, 1], scaled by 255 and rounded (channel by channel, on the input's device).
torch::Tensor checked_levels(const torch::Tensor& affinities, const char* what) {
  GTGM_CHECK(affinities.defined() && affinities.dim() == 4 && affinities.size(0) == 3 && affinities.numel() > 0,
             "{}: expected affinities [3, D, H, W], got shape {}", what,
             affinities.defined() ? affinities.sizes() : c10::IntArrayRef{});
  GTGM_CHECK(affinities.is_floating_point() || affinities.scalar_type() == torch::kUInt8,
             "{}: affinities must be floating point in [0, 1] or uint8 levels (affinity * 255), got {}", what,
             affinities.scalar_type());
  if (affinities.scalar_type() == torch::kUInt8) return affinities.to(torch::kCPU).contiguous();
  torch::Tensor levels = torch::empty(affinities.sizes(), torch::kUInt8);
  for (int64_t c = 0; c < 3; ++c)
    levels[c].copy_(affinities[c].to(torch::kFloat).clamp(0, 1).mul(255).round().to(torch::kUInt8).cpu());
  return levels;
}

uint8_t level_of(double threshold) {
  return static_cast<uint8_t>(std::clamp(std::floor(threshold * 255.0), 0.0, 255.0));
}

bool same_distance(double a, double b) {
  return a == b || std::abs(a - b) <= 1e-9 * std::max({1.0, std::abs(a), std::abs(b)});
}

// Regional maxima of the squared distance map `dist2` over the interior voxels (6-connected
// plateaus): seed ids 1..S in raster order written to `labels`; returns S.
int64_t label_seeds(const Grid& g, const std::vector<uint8_t>& interior, const std::vector<double>& dist2,
                    std::vector<int64_t>& labels) {
  std::vector<uint8_t> visited(static_cast<size_t>(g.n), 0);
  std::vector<int64_t> plateau, stack;
  int64_t next = 0;
  for (int64_t v = 0; v < g.n; ++v) {
    if (!interior[v] || visited[v]) continue;
    plateau.clear();
    stack.assign(1, v);
    visited[v] = 1;
    bool maximum = true;
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      plateau.push_back(p);
      for (int dir = 0; dir < 6; ++dir) {
        int64_t u;
        uint8_t a;
        if (!g.neighbour(p, dir, u, a) || !interior[u]) continue;
        if (same_distance(dist2[u], dist2[v])) {
          if (!visited[u]) {
            visited[u] = 1;
            stack.push_back(u);
          }
        } else if (dist2[u] > dist2[v]) {
          maximum = false;
        }
      }
    }
    if (maximum) {
      ++next;
      for (int64_t p : plateau) labels[p] = next;
    }
  }
  return next;
}

// Bucket queue over 256 affinity levels, FIFO within a level. Entries are voxel * 6 + direction
// from that voxel to the labelled voxel that reached it.
class BucketQueue {
 public:
  void push(int64_t voxel, int dir_to_source, uint8_t level) {
    buckets_[level].push_back(voxel * 6 + dir_to_source);
    top_ = std::max(top_, static_cast<int>(level));
    ++size_;
  }
  bool pop(int64_t& voxel, int& dir) {
    if (size_ == 0) return false;
    while (buckets_[top_].empty()) --top_;
    const int64_t code = buckets_[top_].front();
    buckets_[top_].pop_front();
    --size_;
    voxel = code / 6;
    dir = static_cast<int>(code % 6);
    return true;
  }

 private:
  std::deque<int64_t> buckets_[256];
  int top_ = 0;
  int64_t size_ = 0;
};

void push_neighbours(const Grid& g, const std::vector<uint8_t>& background, const std::vector<int64_t>& labels,
                     BucketQueue& queue, int64_t v) {
  for (int dir = 0; dir < 6; ++dir) {
    int64_t u;
    uint8_t a;
    if (g.neighbour(v, dir, u, a) && labels[u] == 0 && !background[u]) queue.push(u, dir ^ 1, a);
  }
}

// Priority flood: each popped voxel takes the label of the voxel that pushed it.
void drain(const Grid& g, const std::vector<uint8_t>& background, std::vector<int64_t>& labels, BucketQueue& queue) {
  int64_t v;
  int dir;
  while (queue.pop(v, dir)) {
    if (labels[v] != 0) continue;
    int64_t src = v;
    uint8_t a = 0;
    g.neighbour(v, dir, src, a);  // always inside: the source pushed v
    labels[v] = labels[src];
    push_neighbours(g, background, labels, queue, v);
  }
}

// One fragment pair: summed affinity and count (mean), or a level histogram (median).
struct EdgeStats {
  double sum = 0;
  int64_t count = 0;
  std::unique_ptr<std::array<uint32_t, 256>> hist;  // median only
  void add(uint8_t level, bool histogram) {
    sum += static_cast<double>(level) / 255.0;
    count += 1;
    if (histogram) {
      if (!hist) hist = std::make_unique<std::array<uint32_t, 256>>();
      (*hist)[level] += 1;
    }
  }
  void absorb(const EdgeStats& o) {
    sum += o.sum;
    count += o.count;
    if (o.hist) {
      if (!hist) hist = std::make_unique<std::array<uint32_t, 256>>();
      for (int l = 0; l < 256; ++l) (*hist)[l] += (*o.hist)[l];
    }
  }
  double score(config::AffinityMerge merge) const {
    if (merge == config::AffinityMerge::Median) return histogram_quantile(*hist, 50);
    return sum / static_cast<double>(count);
  }
};

struct MergeCandidate {
  double score;
  int64_t a, b;                                    // a < b
  bool operator<(const MergeCandidate& o) const {  // priority_queue: "less" = popped later
    if (score != o.score) return score < o.score;
    if (a != o.a) return a > o.a;
    return b > o.b;
  }
};

}  // namespace

torch::Tensor watershed_fragments(const torch::Tensor& affinities, const WatershedOptions& options) {
  torch::Tensor levels = checked_levels(affinities, "watershed");
  const Grid g(levels);
  // Strict comparisons against the affinity thresholds, done on levels: a > t  <=>  level > floor(255 t).
  const int seed_level = level_of(options.seed_threshold);
  const double background_level = options.background_threshold * 255.0;
  std::vector<uint8_t> interior(static_cast<size_t>(g.n), 0), background(static_cast<size_t>(g.n), 0);
  for (int64_t v = 0; v < g.n; ++v) {
    int lo = 256, hi = -1;
    bool any = false;
    for (int dir = 0; dir < 6; ++dir) {
      int64_t u;
      uint8_t a;
      if (!g.neighbour(v, dir, u, a)) continue;
      any = true;
      lo = std::min(lo, static_cast<int>(a));
      hi = std::max(hi, static_cast<int>(a));
    }
    interior[v] = any && lo > seed_level;
    background[v] = options.background_threshold > 0 && !interior[v] && (!any || hi < background_level);
  }
  std::vector<uint8_t> boundary(static_cast<size_t>(g.n));
  for (int64_t v = 0; v < g.n; ++v) boundary[v] = !interior[v];
  std::vector<double> dist2(static_cast<size_t>(g.n));
  squared_distance_to_features(boundary.data(), {g.size[0], g.size[1], g.size[2]}, options.spacing_dhw, dist2.data());

  torch::Tensor out = torch::zeros({g.size[0], g.size[1], g.size[2]}, torch::kInt64);
  std::vector<int64_t> labels(static_cast<size_t>(g.n), 0);
  int64_t next = label_seeds(g, interior, dist2, labels);
  BucketQueue queue;
  for (int64_t v = 0; v < g.n; ++v)
    if (labels[v] != 0) push_neighbours(g, background, labels, queue, v);
  drain(g, background, labels, queue);
  // Voxels no seed could reach (walled in by background) get fragments of their own.
  for (int64_t v = 0; v < g.n; ++v) {
    if (labels[v] != 0 || background[v]) continue;
    labels[v] = ++next;
    push_neighbours(g, background, labels, queue, v);
    drain(g, background, labels, queue);
  }
  std::copy(labels.begin(), labels.end(), out.data_ptr<int64_t>());
  return out;
}

double histogram_quantile(const std::array<uint32_t, 256>& histogram, int quantile) {
  int64_t total = 0;
  for (const uint32_t c : histogram) total += c;
  if (total == 0) return std::nan("");
  const int64_t pivot = static_cast<int64_t>(quantile) * total / 100 + 1;  // 1-based, integer division
  int64_t sum = 0;
  int bin = 0;
  for (bin = 0; bin < 256; ++bin) {
    sum += histogram[static_cast<size_t>(bin)];
    if (sum >= pivot) break;
  }
  return static_cast<double>(bin) / 255.0;
}

torch::Tensor agglomerate(const torch::Tensor& fragments, const torch::Tensor& affinities, double merge_threshold,
                          config::AffinityMerge merge) {
  torch::Tensor levels = checked_levels(affinities, "agglomerate");
  GTGM_CHECK(fragments.defined() && fragments.dim() == 3 && fragments.sizes() == levels.sizes().slice(1),
             "agglomerate: fragments have shape {} but the affinities {} need [{}, {}, {}]",
             fragments.defined() ? fragments.sizes() : c10::IntArrayRef{}, levels.sizes(), levels.size(1),
             levels.size(2), levels.size(3));
  GTGM_CHECK(!fragments.is_floating_point() && !fragments.is_complex(),
             "agglomerate: fragments must have an integer dtype, got {}", fragments.scalar_type());
  const Grid g(levels);
  torch::Tensor frag = fragments.to(torch::kCPU).to(torch::kInt64).contiguous();
  const int64_t* f = frag.data_ptr<int64_t>();

  // Compact ids 0..F-1 in raster order of first appearance; -1 = background.
  std::unordered_map<int64_t, int64_t> compact;
  std::vector<int64_t> id(static_cast<size_t>(g.n));
  for (int64_t v = 0; v < g.n; ++v) {
    if (f[v] == 0) {
      id[v] = -1;
      continue;
    }
    auto it = compact.try_emplace(f[v], static_cast<int64_t>(compact.size())).first;
    id[v] = it->second;
  }
  const int64_t count = static_cast<int64_t>(compact.size());

  // Region adjacency graph: per fragment pair one EdgeStats (summed affinity and number of voxel
  // edges; a level histogram for the median), shared by both directions through its index.
  const bool histogram = merge == config::AffinityMerge::Median;
  std::vector<EdgeStats> edges;
  std::vector<std::unordered_map<int64_t, size_t>> adj(static_cast<size_t>(count));
  for (int64_t v = 0; v < g.n; ++v) {
    if (id[v] < 0) continue;
    for (int dir = 0; dir < 6; dir += 2) {
      int64_t u;
      uint8_t a;
      if (!g.neighbour(v, dir, u, a) || id[u] < 0 || id[u] == id[v]) continue;
      const auto [it, added] = adj[id[v]].try_emplace(id[u], edges.size());
      if (added) {
        edges.emplace_back();
        adj[id[u]][id[v]] = it->second;
      }
      edges[it->second].add(a, histogram);
    }
  }
  std::priority_queue<MergeCandidate> heap;
  for (int64_t a = 0; a < count; ++a)
    for (const auto& [b, e] : adj[a])
      if (a < b) heap.push({edges[e].score(merge), a, b});

  std::vector<int64_t> parent(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) parent[i] = i;
  while (!heap.empty()) {
    const MergeCandidate top = heap.top();
    heap.pop();
    if (!(top.score > merge_threshold)) break;
    if (parent[top.a] != top.a || parent[top.b] != top.b) continue;  // one side already merged away
    auto it = adj[top.a].find(top.b);
    if (it == adj[top.a].end() || edges[it->second].score(merge) != top.score) continue;  // stale score
    // Merge the smaller adjacency into the larger.
    int64_t keep = top.a, gone = top.b;
    if (adj[gone].size() > adj[keep].size()) std::swap(keep, gone);
    parent[gone] = keep;
    adj[keep].erase(gone);
    for (const auto& [n, e] : adj[gone]) {
      if (n == keep) continue;
      const auto [kn, fresh] = adj[keep].try_emplace(n, e);  // a new neighbour of keep takes gone's edge
      if (!fresh) {
        edges[kn->second].absorb(edges[e]);
        edges[e] = EdgeStats{};  // its statistics now live in keep's edge
      }
      adj[n].erase(gone);
      adj[n][keep] = kn->second;
      heap.push({edges[kn->second].score(merge), std::min(keep, n), std::max(keep, n)});
    }
    adj[gone].clear();
  }
  auto root = [&parent](int64_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  torch::Tensor out = torch::zeros({g.size[0], g.size[1], g.size[2]}, torch::kInt64);
  int64_t* o = out.data_ptr<int64_t>();
  std::vector<int64_t> final_label(static_cast<size_t>(count), 0);
  int64_t next = 0;
  for (int64_t v = 0; v < g.n; ++v) {
    if (id[v] < 0) continue;
    int64_t& l = final_label[root(id[v])];
    if (l == 0) l = ++next;
    o[v] = l;
  }
  return out;
}

torch::Tensor segment_affinities(const torch::Tensor& affinities, const WatershedOptions& options) {
  return agglomerate(watershed_fragments(affinities, options), affinities, options.merge_threshold, options.merge);
}

}  // namespace gtgm::infer
