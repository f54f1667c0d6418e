// The reference's two pretraining views (include/gtgm/data/reference_views.h): draws and the pure
// voxel work, in plain loops over one sample (the loader calls it from its worker threads).
#include "gtgm/data/reference_views.h"

#include <algorithm>
#include <cmath>

#include "gtgm/core/error.h"
#include "gtgm/data/augment.h"

namespace gtgm::data {

// Helpers in a named namespace: unity builds merge anonymous namespaces across files.
namespace refview {

/// Probability that simple_aug runs (SimpleAugment skip_ratio 0.5, utils/augmentation.py:220, 237-238).
constexpr double kSharedFlip = 0.5;
/// Intensity 'mix': 3D when U > 1 - (1 - 0.5) / 2 (consistency_aug_perturbations.py:312-316), else per slice.
constexpr double kIntensity3dAbove = 0.75;

/// A [d, h, w] float volume in a flat buffer.
struct Vol {
  int64_t d = 0, h = 0, w = 0;
  std::vector<float> v;
  Vol(int64_t d_, int64_t h_, int64_t w_) : d(d_), h(h_), w(w_), v(static_cast<size_t>(d_ * h_ * w_)) {}
  float& at(int64_t z, int64_t y, int64_t x) { return v[static_cast<size_t>((z * h + y) * w + x)]; }
  float at(int64_t z, int64_t y, int64_t x) const { return v[static_cast<size_t>((z * h + y) * w + x)]; }
};

/// simple_augment / produce_simple_aug: z flip, x (W) flip, y (H) flip, then the H/W transpose.
Vol apply_rule(const Vol& in, const FlipRule& r) {
  Vol out(in.d, r[3] ? in.w : in.h, r[3] ? in.h : in.w);
  for (int64_t z = 0; z < out.d; ++z) {
    for (int64_t y = 0; y < out.h; ++y) {
      for (int64_t x = 0; x < out.w; ++x) {
        int64_t sy = r[3] ? x : y, sx = r[3] ? y : x;  // index into the flipped volume
        if (r[2]) sy = in.h - 1 - sy;
        if (r[1]) sx = in.w - 1 - sx;
        out.at(z, y, x) = in.at(r[0] ? in.d - 1 - z : z, sy, sx);
      }
    }
  }
  return out;
}

/// The in-plane window [y0, y0 + h) x [x0, x0 + w) of every slice.
Vol window(const Vol& in, int64_t y0, int64_t x0, int64_t h, int64_t w) {
  Vol out(in.d, h, w);
  for (int64_t z = 0; z < in.d; ++z) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) out.at(z, y, x) = in.at(z, y0 + y, x0 + x);
    }
  }
  return out;
}

/// cv2.resize INTER_LINEAR source taps: coordinate (i + 0.5) * in / out - 0.5, floored and clamped
/// to [0, in - 1] with weight 0 past an edge.
void linear_taps(int64_t in, int64_t out, std::vector<int64_t>& i0, std::vector<int64_t>& i1, std::vector<double>& f) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  i0.resize(static_cast<size_t>(out));
  i1.resize(static_cast<size_t>(out));
  f.resize(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    double fx = (static_cast<double>(o) + 0.5) * scale - 0.5;
    auto s = static_cast<int64_t>(std::floor(fx));
    fx -= static_cast<double>(s);
    if (s < 0) fx = 0.0, s = 0;
    if (s >= in - 1) fx = 0.0, s = in - 1;
    i0[static_cast<size_t>(o)] = s;
    i1[static_cast<size_t>(o)] = std::min(s + 1, in - 1);
    f[static_cast<size_t>(o)] = fx;
  }
}

/// resize_3d (consistency_aug_perturbations.py:97-109): every slice to h x w, bilinear.
Vol resize_slices(const Vol& in, int64_t h, int64_t w) {
  std::vector<int64_t> y0, y1, x0, x1;
  std::vector<double> fy, fx;
  linear_taps(in.h, h, y0, y1, fy);
  linear_taps(in.w, w, x0, x1, fx);
  Vol out(in.d, h, w);
  std::vector<double> row(static_cast<size_t>(in.h * w));
  for (int64_t z = 0; z < in.d; ++z) {
    for (int64_t y = 0; y < in.h; ++y) {  // along W first
      for (int64_t x = 0; x < w; ++x) {
        const auto k = static_cast<size_t>(x);
        row[static_cast<size_t>(y * w + x)] = in.at(z, y, x0[k]) * (1.0 - fx[k]) + in.at(z, y, x1[k]) * fx[k];
      }
    }
    for (int64_t y = 0; y < h; ++y) {
      const auto k = static_cast<size_t>(y);
      for (int64_t x = 0; x < w; ++x) {
        out.at(z, y, x) = static_cast<float>(row[static_cast<size_t>(y0[k] * w + x)] * (1.0 - fy[k]) +
                                             row[static_cast<size_t>(y1[k] * w + x)] * fy[k]);
      }
    }
  }
  return out;
}

/// cv2.getGaussianKernel(k, sigma): exp(-x^2 / (2 sigma^2)) normalised; sigma <= 0 uses OpenCV's
/// fixed tables for k <= 7 and sigma = 0.3 ((k - 1) / 2 - 1) + 0.8 otherwise.
std::vector<double> cv_gaussian_kernel(int k, double sigma) {
  static const double k3[] = {0.25, 0.5, 0.25};
  static const double k5[] = {0.0625, 0.25, 0.375, 0.25, 0.0625};
  static const double k7[] = {0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125};
  std::vector<double> t(static_cast<size_t>(k));
  const double* fixed = nullptr;
  if (sigma <= 0.0) fixed = k == 1 ? nullptr : k == 3 ? k3 : k == 5 ? k5 : k == 7 ? k7 : nullptr;
  const double s = sigma > 0.0 ? sigma : ((k - 1) * 0.5 - 1.0) * 0.3 + 0.8;
  double sum = 0.0;
  for (int i = 0; i < k; ++i) {
    const double x = i - (k - 1) * 0.5;
    t[static_cast<size_t>(i)] = k == 1 ? 1.0 : fixed ? fixed[i] : std::exp(-0.5 / (s * s) * x * x);
    sum += t[static_cast<size_t>(i)];
  }
  for (auto& v : t) v /= sum;
  return t;
}

/// BORDER_REFLECT_101 index (d c b | a b c d | c b a).
int64_t reflect101(int64_t i, int64_t n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/// add_gauss_blur (consistency_aug_perturbations.py:123-132): cv2.GaussianBlur per slice, clip to [0, 1].
void blur_slices(Vol& v, int k, double sigma) {
  const auto taps = cv_gaussian_kernel(k, sigma);
  const int r = k / 2;
  std::vector<double> tmp(static_cast<size_t>(v.h * v.w));
  for (int64_t z = 0; z < v.d; ++z) {
    for (int64_t y = 0; y < v.h; ++y) {
      for (int64_t x = 0; x < v.w; ++x) {
        double s = 0.0;
        for (int t = -r; t <= r; ++t) s += taps[static_cast<size_t>(t + r)] * v.at(z, y, reflect101(x + t, v.w));
        tmp[static_cast<size_t>(y * v.w + x)] = s;
      }
    }
    for (int64_t y = 0; y < v.h; ++y) {
      for (int64_t x = 0; x < v.w; ++x) {
        double s = 0.0;
        for (int t = -r; t <= r; ++t) {
          s += taps[static_cast<size_t>(t + r)] * tmp[static_cast<size_t>(reflect101(y + t, v.h) * v.w + x)];
        }
        v.at(z, y, x) = static_cast<float>(std::clamp(s, 0.0, 1.0));
      }
    }
  }
}

/// Intensity.augment2D/3D: x *= contrast; x += brightness; clip; x **= gamma (float32, as numpy on
/// the float32 crop), then the final clip to [0, 1].
void intensity(Vol& v, const std::vector<std::array<double, 3>>& p, bool whole) {
  GTGM_CHECK(p.size() == (whole ? 1u : static_cast<size_t>(v.d)),
             "reference views: intensity needs 1 (3D) or one per slice ({}) parameter triples, got {}", v.d,
             p.size());
  const int64_t plane = v.h * v.w;
  for (int64_t z = 0; z < v.d; ++z) {
    const auto& q = p[whole ? 0 : static_cast<size_t>(z)];
    const auto c = static_cast<float>(q[0]), b = static_cast<float>(q[1]), g = static_cast<float>(q[2]);
    for (int64_t k = z * plane; k < (z + 1) * plane; ++k) {
      float& x = v.v[static_cast<size_t>(k)];
      x = std::clamp(x * c + b, 0.0f, 1.0f);
      x = std::clamp(std::pow(x, g), 0.0f, 1.0f);
    }
  }
}

/// scaler (data_provider_pretraining_caption_match.py:328-332); a constant view becomes 0 (the
/// reference divides by zero).
torch::Tensor minmax_tensor(const Vol& v) {
  auto out = torch::empty({v.d, v.h, v.w}, torch::kFloat);
  float* o = out.data_ptr<float>();
  const auto [lo_it, hi_it] = std::minmax_element(v.v.begin(), v.v.end());
  const double lo = *lo_it, range = static_cast<double>(*hi_it) - lo;
  for (size_t k = 0; k < v.v.size(); ++k) {
    o[k] = range > 0.0 ? static_cast<float>((v.v[k] - lo) / range) : 0.0f;
  }
  return out;
}

Vol make_view(const Vol& ctx, const RefViewDraws& p, const Index3& crop, int64_t context) {
  const int64_t hw = crop[2];
  if (p.kind == RefPerturbation::Rescale) {
    // Rescale.__call__: a centred window of scale_size (when smaller than the context crop), resized.
    GTGM_CHECK(p.scale_size >= 2, "reference views: rescale window {} is too small", p.scale_size);
    Vol v = ctx;
    if (p.scale_size < ctx.w) {
      const int64_t shift = (ctx.w - p.scale_size) / 2;
      if (shift > 0) v = window(ctx, shift, shift, ctx.h - 2 * shift, ctx.w - 2 * shift);
    }
    return resize_slices(v, hw, hw);
  }
  Vol v = context > 0 ? window(ctx, context, context, crop[1], crop[2]) : ctx;
  switch (p.kind) {
    case RefPerturbation::Flip:
      v = apply_rule(v, p.rule);
      break;
    case RefPerturbation::Intensity:
      intensity(v, p.intensity, p.intensity_3d);
      break;
    case RefPerturbation::Noise: {
      GTGM_CHECK(p.noise.defined() && p.noise.numel() == static_cast<int64_t>(v.v.size()),
                 "reference views: the noise field must have the view's {} voxels", v.v.size());
      const auto z = p.noise.to(torch::kDouble).contiguous();
      const double* n = z.data_ptr<double>();
      for (size_t k = 0; k < v.v.size(); ++k) {
        v.v[k] = static_cast<float>(std::clamp(static_cast<double>(v.v[k]) + p.noise_std * n[k], 0.0, 1.0));
      }
      break;
    }
    case RefPerturbation::Blur:
      blur_slices(v, p.blur_kernel, p.blur_sigma);
      break;
    case RefPerturbation::Rescale:
      break;
  }
  return v;
}

}  // namespace refview


void check_reference_views(const config::PretrainAugmentConfig& cfg, const Index3& crop) {
  GTGM_CHECK(crop[1] == crop[2],
             "data.pretrain_augment.views=reference needs a square in-plane crop (data.crop_size H == W, as the "
             "reference's square resize), got {}x{}",
             crop[1], crop[2]);
  const double need = static_cast<double>(crop[2]) * (cfg.rescale_max - 1.0) / 2.0;
  GTGM_CHECK(static_cast<double>(cfg.context) >= need,
             "data.pretrain_augment.context must be >= {} for a {}-voxel crop and rescale_max {} (the rescale "
             "window reaches crop * rescale_max), got {}",
             static_cast<int64_t>(std::ceil(need)), crop[2], cfg.rescale_max, cfg.context);
}

RefSampleDraws draw_reference_views(Rng& rng, const config::PretrainAugmentConfig& cfg, const Index3& shape,
                                    const Index3& crop) {
  check_reference_views(cfg, crop);
  RefSampleDraws d;
  const Index3 ctx{crop[0], crop[1] + 2 * cfg.context, crop[2] + 2 * cfg.context};
  d.corner = random_crop_start(shape, ctx, rng);
  if (rng.bernoulli(refview::kSharedFlip)) {
    for (auto& b : d.shared) b = rng.bernoulli(0.5);
  }
  const double det = static_cast<double>(crop[2]), sf = cfg.rescale_max;
  for (auto& v : d.views) {
    v.kind = static_cast<RefPerturbation>(rng.randint(0, 4));
    switch (v.kind) {
      case RefPerturbation::Rescale: {
        // random.randint(det // sf // 2, det * sf // 2) * 2 (Python floor divisions on floats).
        const auto lo = static_cast<int64_t>(std::floor(std::floor(det / sf) / 2.0));
        const auto hi = static_cast<int64_t>(std::floor(det * sf / 2.0));
        v.scale_size = 2 * std::max<int64_t>(1, rng.randint(lo, hi));
        break;
      }
      case RefPerturbation::Flip:
        for (auto& b : v.rule) b = rng.bernoulli(0.5);
        break;
      case RefPerturbation::Intensity: {
        v.intensity_3d = rng.uniform() > refview::kIntensity3dAbove;
        const int64_t n = v.intensity_3d ? 1 : crop[0];
        for (int64_t z = 0; z < n; ++z) {
          // 1 + (U - 0.5) * 2x, (U - 0.5) * 2x, 2^(2U - 1): x = 0.05 is the reference's factor 0.1.
          const double c = 1.0 + (rng.uniform() - 0.5) * 2.0 * cfg.intensity;
          const double b = (rng.uniform() - 0.5) * 2.0 * cfg.intensity;
          const double g = std::pow(2.0, rng.uniform() * 2.0 - 1.0);
          v.intensity.push_back({c, b, g});
        }
        break;
      }
      case RefPerturbation::Noise: {
        v.noise_std = rng.uniform(cfg.noise_std[0], cfg.noise_std[1]);
        auto gen = make_generator(torch::kCPU, rng.bits());
        v.noise = torch::randn({crop[0], crop[1], crop[2]}, gen, torch::kFloat);
        break;
      }
      case RefPerturbation::Blur:
        v.blur_kernel = 2 * static_cast<int>(rng.randint(cfg.blur_kernel[0] / 2, cfg.blur_kernel[1] / 2)) + 1;
        v.blur_sigma = rng.uniform(cfg.blur_sigma[0], cfg.blur_sigma[1]);
        break;
    }
  }
  return d;
}

std::array<torch::Tensor, 2> reference_views(const torch::Tensor& volume, const RefSampleDraws& draws,
                                             const Index3& crop, int64_t context) {
  GTGM_CHECK(volume.dim() == 3, "reference views: expected a volume [D, H, W], got {}", volume.sizes());
  GTGM_CHECK(crop[1] == crop[2], "reference views: the crop must be square in-plane, got {}x{}", crop[1], crop[2]);
  const Index3 ctx{crop[0], crop[1] + 2 * context, crop[2] + 2 * context};
  for (int a = 0; a < 3; ++a) {
    GTGM_CHECK(draws.corner[a] >= 0 && draws.corner[a] + ctx[a] <= volume.size(a),
               "reference views: the context crop {}..{} leaves the volume ({} voxels) on axis {}", draws.corner[a],
               draws.corner[a] + ctx[a], volume.size(a), a);
  }
  const auto src = volume.slice(0, draws.corner[0], draws.corner[0] + ctx[0])
                       .slice(1, draws.corner[1], draws.corner[1] + ctx[1])
                       .slice(2, draws.corner[2], draws.corner[2] + ctx[2])
                       .to(torch::kFloat)
                       .contiguous();
  refview::Vol c(ctx[0], ctx[1], ctx[2]);
  std::copy(src.data_ptr<float>(), src.data_ptr<float>() + src.numel(), c.v.begin());
  if (draws.shared != FlipRule{}) c = refview::apply_rule(c, draws.shared);
  return {refview::minmax_tensor(refview::make_view(c, draws.views[0], crop, context)),
          refview::minmax_tensor(refview::make_view(c, draws.views[1], crop, context))};
}

}  // namespace gtgm::data
