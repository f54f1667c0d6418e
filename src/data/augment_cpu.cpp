#include "augment_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace gtgm::data::cpu {

namespace {

Shape3 strides_of(const Shape3& s) { return {s[1] * s[2], s[2], 1}; }

template <class T, class F>
void gather_impl(const T* in, const Shape3& in_shape, const AxisMap& map, T* out, F convert) {
  const auto s = strides_of(in_shape);
  const auto out_shape = map.out_shape(in_shape);
  int64_t base = 0;
  std::array<int64_t, 3> step{};
  for (int a = 0; a < 3; ++a) {
    const int src = map.axis[a];
    step[a] = map.flip[a] ? -s[src] : s[src];
    if (map.flip[a]) base += (in_shape[src] - 1) * s[src];
  }
  const int64_t n2 = out_shape[2];
  for (int64_t o0 = 0; o0 < out_shape[0]; ++o0) {
    for (int64_t o1 = 0; o1 < out_shape[1]; ++o1) {
      const T* src = in + base + o0 * step[0] + o1 * step[1];
      T* dst = out + (o0 * out_shape[1] + o1) * n2;
      const int64_t st = step[2];
      if (st == 1) {
        for (int64_t x = 0; x < n2; ++x) dst[x] = convert(src[x]);
      } else if (st == -1) {
        for (int64_t x = 0; x < n2; ++x) dst[x] = convert(src[-x]);
      } else {
        for (int64_t x = 0; x < n2; ++x) dst[x] = convert(src[x * st]);
      }
    }
  }
}

/// Source coordinate of output voxel o along an axis of n voxels for a centred zoom, as
/// grid_sample computes it from affine_grid (align_corners = false).
double zoom_coordinate(int64_t o, int64_t n, double zoom) {
  const double nn = static_cast<double>(n);
  const double g = ((2.0 * static_cast<double>(o) + 1.0) / nn - 1.0) / zoom;  // normalised [-1, 1]
  return ((g + 1.0) * nn - 1.0) / 2.0;
}

/// A volume seen along `axis`: `outer` blocks of n lines, each line element `inner` floats apart.
/// Lines along the last axis are contiguous; along the others, whole rows/planes combine with
/// contiguous AXPYs (vectorisable).
inline int64_t outer_count(const Shape3& s, int axis) {
  int64_t n = 1;
  for (int a = 0; a < axis; ++a) n *= s[a];
  return n;
}
inline int64_t inner_count(const Shape3& s, int axis) {
  int64_t n = 1;
  for (int a = axis + 1; a < 3; ++a) n *= s[a];
  return n;
}

}  // namespace

void AxisMap::transpose(int a, int b) {
  std::swap(axis[a], axis[b]);
  std::swap(flip[a], flip[b]);
}

void AxisMap::permute(const std::array<int, 3>& perm) {
  const auto old = *this;
  for (int a = 0; a < 3; ++a) {
    axis[a] = old.axis[perm[a]];
    flip[a] = old.flip[perm[a]];
  }
}

void AxisMap::rot90(int k) {
  k = ((k % 4) + 4) % 4;
  // Exactly torch's rot90 on dims (1, 2) as view ops.
  if (k == 1) {
    flip_axis(2);
    transpose(1, 2);
  } else if (k == 2) {
    flip_axis(1);
    flip_axis(2);
  } else if (k == 3) {
    flip_axis(1);
    transpose(1, 2);
  }
}

bool AxisMap::identity() const { return axis == std::array<int, 3>{0, 1, 2} && !flip[0] && !flip[1] && !flip[2]; }

Shape3 AxisMap::out_shape(const Shape3& in) const { return {in[axis[0]], in[axis[1]], in[axis[2]]}; }

void minmax(const float* p, int64_t n, float& lo, float& hi) {
  // Several independent accumulators so the compiler can vectorise.
  constexpr int kLanes = 8;
  float l[kLanes], h[kLanes];
  for (int i = 0; i < kLanes; ++i) {
    l[i] = std::numeric_limits<float>::infinity();
    h[i] = -std::numeric_limits<float>::infinity();
  }
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) {
      l[k] = std::min(l[k], p[i + k]);
      h[k] = std::max(h[k], p[i + k]);
    }
  }
  for (; i < n; ++i) {
    l[0] = std::min(l[0], p[i]);
    h[0] = std::max(h[0], p[i]);
  }
  lo = *std::min_element(l, l + kLanes);
  hi = *std::max_element(h, h + kLanes);
}

void gather(const float* in, const Shape3& in_shape, const AxisMap& map, float lo, float scale, float* out) {
  gather_impl(in, in_shape, map, out, [lo, scale](float v) { return (v - lo) * scale; });
}

void gather(const int64_t* in, const Shape3& in_shape, const AxisMap& map, int64_t* out) {
  gather_impl(in, in_shape, map, out, [](int64_t v) { return v; });
}

void zoom_linear_axis(const float* in, const Shape3& shape, int axis, double zoom, float* out) {
  const int64_t n = shape[axis];
  std::vector<int64_t> i0(static_cast<size_t>(n)), i1(static_cast<size_t>(n));
  std::vector<float> w(static_cast<size_t>(n));
  for (int64_t o = 0; o < n; ++o) {
    const double u = std::clamp(zoom_coordinate(o, n, zoom), 0.0, static_cast<double>(n - 1));
    const auto f = static_cast<int64_t>(std::floor(u));
    i0[static_cast<size_t>(o)] = f;
    i1[static_cast<size_t>(o)] = std::min(f + 1, n - 1);
    w[static_cast<size_t>(o)] = static_cast<float>(u - static_cast<double>(f));
  }
  const int64_t outer = outer_count(shape, axis), inner = inner_count(shape, axis);
  for (int64_t b = 0; b < outer; ++b) {
    const float* src = in + b * n * inner;
    float* dst = out + b * n * inner;
    if (inner == 1) {
      for (int64_t o = 0; o < n; ++o) {
        const float ww = w[static_cast<size_t>(o)];
        dst[o] = src[i0[static_cast<size_t>(o)]] * (1.0f - ww) + src[i1[static_cast<size_t>(o)]] * ww;
      }
      continue;
    }
    for (int64_t o = 0; o < n; ++o) {
      const float ww = w[static_cast<size_t>(o)], vw = 1.0f - ww;
      const float* a = src + i0[static_cast<size_t>(o)] * inner;
      const float* c = src + i1[static_cast<size_t>(o)] * inner;
      float* d = dst + o * inner;
      for (int64_t k = 0; k < inner; ++k) d[k] = a[k] * vw + c[k] * ww;
    }
  }
}

void zoom_nearest_axis(const int64_t* in, const Shape3& shape, int axis, double zoom, int64_t* out) {
  const int64_t n = shape[axis];
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t o = 0; o < n; ++o) {
    const double r = std::nearbyint(zoom_coordinate(o, n, zoom));  // half to even, as grid_sample
    idx[static_cast<size_t>(o)] = r < 0 || r > static_cast<double>(n - 1) ? -1 : static_cast<int64_t>(r);
  }
  const int64_t outer = outer_count(shape, axis), inner = inner_count(shape, axis);
  for (int64_t b = 0; b < outer; ++b) {
    const int64_t* src = in + b * n * inner;
    int64_t* dst = out + b * n * inner;
    for (int64_t o = 0; o < n; ++o) {
      const int64_t i = idx[static_cast<size_t>(o)];
      if (inner == 1) {
        dst[o] = i < 0 ? 0 : src[i];
      } else if (i < 0) {
        std::fill(dst + o * inner, dst + (o + 1) * inner, int64_t{0});
      } else {
        std::memcpy(dst + o * inner, src + i * inner, static_cast<size_t>(inner) * sizeof(int64_t));
      }
    }
  }
}

void convolve_axis(const float* in, const Shape3& shape, int axis, const std::vector<float>& taps, float* out) {
  const int64_t n = shape[axis];
  const auto r = static_cast<int64_t>(taps.size() / 2);
  const int64_t outer = outer_count(shape, axis), inner = inner_count(shape, axis);
  for (int64_t b = 0; b < outer; ++b) {
    const float* src = in + b * n * inner;
    float* dst = out + b * n * inner;
    if (inner == 1) {
      const auto edge = [&](int64_t o) {
        float acc = 0.0f;
        for (int64_t k = -r; k <= r; ++k)
          acc += taps[static_cast<size_t>(k + r)] * src[std::clamp<int64_t>(o + k, 0, n - 1)];
        dst[o] = acc;
      };
      if (n <= 2 * r) {
        for (int64_t o = 0; o < n; ++o) edge(o);
        continue;
      }
      for (int64_t o = 0; o < r; ++o) edge(o);
      for (int64_t o = n - r; o < n; ++o) edge(o);
      // Interior: tap-outer loops over contiguous shifted rows (vectorisable).
      float* d = dst + r;
      const int64_t m = n - 2 * r;
      std::fill(d, d + m, 0.0f);
      for (int64_t k = 0; k <= 2 * r; ++k) {
        const float t = taps[static_cast<size_t>(k)];
        const float* s = src + k;
        for (int64_t j = 0; j < m; ++j) d[j] += t * s[j];
      }
      continue;
    }
    for (int64_t o = 0; o < n; ++o) {
      float* d = dst + o * inner;
      std::fill(d, d + inner, 0.0f);
      for (int64_t k = -r; k <= r; ++k) {
        const float t = taps[static_cast<size_t>(k + r)];
        if (t == 0.0f) continue;
        const float* s = src + std::clamp<int64_t>(o + k, 0, n - 1) * inner;
        for (int64_t j = 0; j < inner; ++j) d[j] += t * s[j];
      }
    }
  }
}

std::vector<float> gaussian_taps(double sigma, int size, int width) {
  std::vector<float> w(static_cast<size_t>(width), 0.0f);
  const int c = width / 2, r = size / 2;
  if (sigma <= 1e-6 || size <= 1) {
    w[static_cast<size_t>(c)] = 1.0f;
    return w;
  }
  double sum = 0;
  for (int t = -r; t <= r; ++t) sum += std::exp(-0.5 * t * t / (sigma * sigma));
  for (int t = -r; t <= r; ++t) {
    w[static_cast<size_t>(c + t)] = static_cast<float>(std::exp(-0.5 * t * t / (sigma * sigma)) / sum);
  }
  return w;
}

void affine(float* p, int64_t n, float a, float b, bool clamp01, float& lo, float& hi) {
  if (clamp01) {
    for (int64_t i = 0; i < n; ++i) p[i] = std::min(1.0f, std::max(0.0f, p[i] * a + b));
  } else {
    for (int64_t i = 0; i < n; ++i) p[i] = p[i] * a + b;
  }
  minmax(p, n, lo, hi);
}

}  // namespace gtgm::data::cpu
