#include "gtgm/data/augment.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "augment_cpu.h"
#include "gtgm/core/error.h"

namespace gtgm::data {

namespace {

/// Per-sample min-max to [0, 1] of x [B, ...]; constant samples become 0.
torch::Tensor minmax(const torch::Tensor& x) {
  const auto flat = x.reshape({x.size(0), -1});
  const auto mn = std::get<0>(flat.min(1, /*keepdim=*/true));
  const auto mx = std::get<0>(flat.max(1, /*keepdim=*/true));
  const auto range = mx - mn;
  auto out = (flat - mn) / range.clamp_min(1e-8);
  out.masked_fill_((range <= 1e-8).expand_as(out), 0.0);
  return out.view(x.sizes());
}

torch::Tensor index_tensor(const std::vector<int64_t>& idx, const torch::Device& device) {
  return torch::tensor(idx, torch::kLong).to(device);
}

/// [G] values -> [G, 1, 1, 1, 1] on the device of x.
torch::Tensor per_sample(const std::vector<double>& v, const torch::Tensor& like) {
  return torch::tensor(v, torch::kDouble).to(like.device(), like.scalar_type()).view({-1, 1, 1, 1, 1});
}

/// Affine zoom about the centre: content magnified by zoom[g]. mode 0 trilinear / 1 nearest;
/// padding 0 zeros / 1 border.
torch::Tensor zoom_batch(const torch::Tensor& x, const std::vector<double>& zoom, int64_t mode, int64_t padding) {
  const auto g = static_cast<int64_t>(zoom.size());
  auto theta = torch::zeros({g, 3, 4}, torch::kFloat);
  for (int64_t i = 0; i < g; ++i) {
    for (int r = 0; r < 3; ++r) theta[i][r][r] = static_cast<float>(1.0 / zoom[static_cast<size_t>(i)]);
  }
  theta = theta.to(x.device());
  const auto grid = torch::affine_grid_generator(theta.to(x.scalar_type()), x.sizes(), /*align_corners=*/false);
  return torch::grid_sampler(x, grid, mode, padding, /*align_corners=*/false);
}

/// Groups sample indices by a key.
template <class F>
std::vector<int64_t> select(size_t n, F pred) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < n; ++i) {
    if (pred(i)) out.push_back(static_cast<int64_t>(i));
  }
  return out;
}

/// Adds N(0, std_i) noise to each sample of x [G, ...] with its own generator.
torch::Tensor add_noise(const torch::Tensor& x, const std::vector<double>& stds, const std::vector<uint64_t>& seeds) {
  auto noise = torch::empty_like(x);
  for (size_t i = 0; i < stds.size(); ++i) {
    auto gen = make_generator(x.device(), seeds[i]);
    noise[static_cast<int64_t>(i)].normal_(0.0, stds[i], gen);
  }
  return x + noise;
}

/// Adds the noise of samples `idx` of x [B, ...] in place, each with its own noise_std and
/// noise_seed from `params` (PretrainViewParams or SegSampleParams).
template <class Params>
void add_noise_to(torch::Tensor& x, const std::vector<int64_t>& idx, const std::vector<Params>& params) {
  std::vector<double> stds;
  std::vector<uint64_t> seeds;
  for (auto i : idx) {
    stds.push_back(params[static_cast<size_t>(i)].noise_std);
    seeds.push_back(params[static_cast<size_t>(i)].noise_seed);
  }
  const auto it = index_tensor(idx, x.device());
  x.index_copy_(0, it, add_noise(x.index_select(0, it), stds, seeds));
}

void check_pretrain_args(const torch::Tensor& x, const std::vector<PretrainViewParams>& params) {
  GTGM_CHECK(x.dim() == 5 && x.size(1) == 1 && static_cast<size_t>(x.size(0)) == params.size(),
             "augment_pretrain: expected views [B, 1, D, H, W] and B parameter sets, got {} and {}", x.sizes(),
             params.size());
}

void check_seg_args(const torch::Tensor& image, const torch::Tensor& label,
                    const std::vector<SegSampleParams>& params) {
  GTGM_CHECK(
      image.dim() == 5 && label.dim() == 5 && label.size(1) == 1 && image.size(0) == label.size(0) &&
          static_cast<size_t>(image.size(0)) == params.size(),
      "augment_seg: expected image [B, C, D, H, W], label [B, 1, D, H, W] and B parameter sets, got {}, {} and {}",
      image.sizes(), label.sizes(), params.size());
  for (int a = 2; a < 5; ++a) {
    GTGM_CHECK(image.size(a) == label.size(a), "augment_seg: image {} and label {} differ in spatial size",
               image.sizes(), label.sizes());
  }
}

}  // namespace

at::Generator make_generator(const torch::Device& device, uint64_t seed) {
  if (device.is_cpu()) return at::detail::createCPUGenerator(seed);
  const auto& base = at::globalContext().defaultGenerator(device);
  at::Generator gen;
  {
    std::lock_guard<std::mutex> lock(const_cast<at::Generator&>(base).mutex());
    gen = base.clone();
  }
  gen.set_current_seed(seed);
  return gen;
}

TransposeMask transpose_mask(const std::array<int64_t, 3>& crop, const std::array<double, 3>& sp) {
  TransposeMask m{};
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      m[a][b] = a != b && crop[a] == crop[b] && std::abs(sp[a] - sp[b]) <= 0.05 * std::max(sp[a], sp[b]);
    }
  }
  return m;
}

PretrainViewParams draw_pretrain_view(Rng& rng, const config::PretrainAugmentConfig& cfg, const TransposeMask& mask,
                                      const std::array<double, 3>& sp) {
  PretrainViewParams p;
  // Shuffle axes within each class of mutually swappable axes.
  if (cfg.transpose) {
    std::array<int, 3> cls{0, 1, 2};
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < a; ++b) {
        if (mask[a][b]) {
          cls[a] = cls[b];
          break;
        }
      }
    }
    for (int c = 0; c < 3; ++c) {
      std::vector<int> members;
      for (int a = 0; a < 3; ++a) {
        if (cls[a] == c) members.push_back(a);
      }
      auto shuffled = members;
      for (int i = static_cast<int>(shuffled.size()) - 1; i > 0; --i) {
        std::swap(shuffled[static_cast<size_t>(i)], shuffled[static_cast<size_t>(rng.randint(0, i))]);
      }
      for (size_t i = 0; i < members.size(); ++i) p.perm[static_cast<size_t>(members[i])] = shuffled[i];
    }
  }
  for (auto& f : p.flip) f = rng.bernoulli(0.5);
  p.op = static_cast<PretrainOp>(rng.randint(0, 4));
  // Every parameter is drawn whatever the op, so the stream consumption is fixed.
  const double lz = std::log(cfg.rescale_max);
  p.zoom = std::exp(rng.uniform(-lz, lz));
  p.flip_axis = static_cast<int>(rng.randint(0, 2));
  p.contrast = 1.0 + rng.uniform(-cfg.intensity, cfg.intensity);
  p.brightness = rng.uniform(-cfg.intensity, cfg.intensity);
  p.noise_std = rng.uniform(cfg.noise_std[0], cfg.noise_std[1]);
  p.noise_seed = rng.bits();
  const int k0 = cfg.blur_kernel[0] | 1,
            k1 = std::max(k0, cfg.blur_kernel[1] % 2 ? cfg.blur_kernel[1] : cfg.blur_kernel[1] - 1);
  p.blur_kernel = k0 + 2 * static_cast<int>(rng.randint(0, (k1 - k0) / 2));
  p.blur_sigma = rng.uniform(cfg.blur_sigma[0], cfg.blur_sigma[1]);
  const double finest = std::min({sp[0], sp[1], sp[2]});
  for (int a = 0; a < 3; ++a) p.axis_scale[a] = finest / sp[a];
  return p;
}

torch::Tensor gaussian_blur(const torch::Tensor& x, const std::vector<std::array<double, 3>>& sigma,
                            const std::vector<int>& kernel) {
  GTGM_CHECK(x.dim() == 5 && static_cast<size_t>(x.size(0)) == sigma.size() && sigma.size() == kernel.size(),
             "gaussian_blur: expected x [B, C, D, H, W] and one sigma/kernel per sample, got {} with {} sigmas",
             x.sizes(), sigma.size());
  const int64_t b = x.size(0), c = x.size(1);
  int width = 1;
  for (int k : kernel) width = std::max(width, k | 1);
  const int r = width / 2;
  auto y = x.reshape({1, b * c, x.size(2), x.size(3), x.size(4)});
  for (int axis = 0; axis < 3; ++axis) {
    std::vector<float> taps;
    bool any = false;
    for (int64_t i = 0; i < b; ++i) {
      const double s = sigma[static_cast<size_t>(i)][static_cast<size_t>(axis)];
      any = any || (s > 1e-6 && kernel[static_cast<size_t>(i)] > 1);
      const auto w = cpu::gaussian_taps(s, kernel[static_cast<size_t>(i)], width);
      for (int64_t ch = 0; ch < c; ++ch) taps.insert(taps.end(), w.begin(), w.end());
    }
    if (!any || width == 1) continue;
    std::vector<int64_t> shape{b * c, 1, 1, 1, 1};
    shape[static_cast<size_t>(2 + axis)] = width;
    const auto weight = torch::tensor(taps, torch::kFloat).view(shape).to(x.device(), x.scalar_type());
    std::vector<int64_t> pad(6, 0);  // (W_l, W_r, H_l, H_r, D_l, D_r)
    pad[static_cast<size_t>(2 * (2 - axis))] = r;
    pad[static_cast<size_t>(2 * (2 - axis) + 1)] = r;
    y = torch::conv3d(torch::replication_pad3d(y, pad), weight, torch::Tensor(), torch::IntArrayRef{1, 1, 1},
                      torch::IntArrayRef{0, 0, 0}, torch::IntArrayRef{1, 1, 1}, b * c);
  }
  return y.view(x.sizes());
}

torch::Tensor augment_pretrain_tensor_ops(const torch::Tensor& x, const std::vector<PretrainViewParams>& params) {
  check_pretrain_args(x, params);
  const size_t n = params.size();
  auto out = minmax(x.to(torch::kFloat));
  // Spatial flips / transposes per sample (views; one copy each).
  bool spatial = false;
  for (const auto& p : params) {
    spatial = spatial || p.perm != std::array<int, 3>{0, 1, 2} || p.flip[0] || p.flip[1] || p.flip[2];
  }
  if (spatial) {
    auto moved = torch::empty_like(out);
    for (size_t i = 0; i < n; ++i) {
      const auto& p = params[i];
      auto v = out[static_cast<int64_t>(i)].permute({0, 1 + p.perm[0], 1 + p.perm[1], 1 + p.perm[2]});
      std::vector<int64_t> dims;
      for (int a = 0; a < 3; ++a) {
        if (p.flip[a]) dims.push_back(1 + a);
      }
      if (!dims.empty()) v = v.flip(dims);
      moved[static_cast<int64_t>(i)].copy_(v);
    }
    out = moved;
  }
  const auto dev = out.device();
  const auto group = [&](PretrainOp op) { return select(n, [&](size_t i) { return params[i].op == op; }); };

  if (const auto idx = group(PretrainOp::Rescale); !idx.empty()) {
    std::vector<double> zoom;
    for (auto i : idx) zoom.push_back(params[static_cast<size_t>(i)].zoom);
    const auto it = index_tensor(idx, dev);
    out.index_copy_(0, it, zoom_batch(out.index_select(0, it), zoom, /*trilinear*/ 0, /*border*/ 1));
  }
  for (const auto i : group(PretrainOp::Flip)) {
    auto s = out[i];
    s.copy_(s.flip({1 + params[static_cast<size_t>(i)].flip_axis}));
  }
  if (const auto idx = group(PretrainOp::Intensity); !idx.empty()) {
    std::vector<double> c, b;
    for (auto i : idx) {
      c.push_back(params[static_cast<size_t>(i)].contrast);
      b.push_back(params[static_cast<size_t>(i)].brightness);
    }
    const auto it = index_tensor(idx, dev);
    const auto sub = out.index_select(0, it);
    out.index_copy_(0, it, (sub * per_sample(c, sub) + per_sample(b, sub)).clamp_(0.0, 1.0));
  }
  if (const auto idx = group(PretrainOp::Noise); !idx.empty()) add_noise_to(out, idx, params);
  if (const auto idx = group(PretrainOp::Blur); !idx.empty()) {
    std::vector<std::array<double, 3>> sig;
    std::vector<int> ks;
    for (auto i : idx) {
      const auto& p = params[static_cast<size_t>(i)];
      sig.push_back({p.blur_sigma * p.axis_scale[0], p.blur_sigma * p.axis_scale[1], p.blur_sigma * p.axis_scale[2]});
      ks.push_back(p.blur_kernel);
    }
    const auto it = index_tensor(idx, dev);
    out.index_copy_(0, it, gaussian_blur(out.index_select(0, it), sig, ks));
  }
  return minmax(out);
}

SegSampleParams draw_seg_params(Rng& rng, const config::SegAugmentConfig& cfg, const std::array<int64_t, 3>& patch,
                                const std::array<double, 3>& sp) {
  SegSampleParams p;
  for (auto& f : p.flip) f = rng.bernoulli(cfg.flip);
  if (rng.bernoulli(cfg.rot90)) p.rot90 = patch[1] == patch[2] ? static_cast<int>(rng.randint(1, 3)) : 2;
  if (rng.bernoulli(cfg.scale)) p.zoom = rng.uniform(cfg.scale_range[0], cfg.scale_range[1]);
  if (rng.bernoulli(cfg.intensity)) {
    p.mult = rng.uniform(cfg.intensity_scale[0], cfg.intensity_scale[1]);
    p.shift = rng.uniform(-cfg.intensity_shift, cfg.intensity_shift);
  }
  if (rng.bernoulli(cfg.gamma)) p.gamma = rng.uniform(cfg.gamma_range[0], cfg.gamma_range[1]);
  if (rng.bernoulli(cfg.noise)) p.noise_std = std::sqrt(rng.uniform(cfg.noise_variance[0], cfg.noise_variance[1]));
  p.noise_seed = rng.bits();
  if (rng.bernoulli(cfg.blur)) p.blur_sigma = rng.uniform(cfg.blur_sigma[0], cfg.blur_sigma[1]);
  const double finest = std::min({sp[0], sp[1], sp[2]});
  for (int a = 0; a < 3; ++a) p.axis_scale[a] = finest / sp[a];
  return p;
}

std::pair<torch::Tensor, torch::Tensor> augment_seg_tensor_ops(const torch::Tensor& image, const torch::Tensor& label,
                                                               const std::vector<SegSampleParams>& params) {
  check_seg_args(image, label, params);
  const size_t n = params.size();
  auto img = image.to(torch::kFloat).clone();
  auto lab = label.to(torch::kLong).clone();
  for (size_t i = 0; i < n; ++i) {
    const auto& p = params[i];
    std::vector<int64_t> dims;
    for (int a = 0; a < 3; ++a) {
      if (p.flip[a]) dims.push_back(1 + a);
    }
    if (dims.empty() && p.rot90 == 0) continue;
    const auto ii = static_cast<int64_t>(i);
    auto xi = img[ii], yi = lab[ii];
    if (p.rot90 != 0) {
      xi = torch::rot90(xi, p.rot90, {2, 3});
      yi = torch::rot90(yi, p.rot90, {2, 3});
    }
    if (!dims.empty()) {
      xi = xi.flip(dims);
      yi = yi.flip(dims);
    }
    img[ii].copy_(xi.contiguous());
    lab[ii].copy_(yi.contiguous());
  }
  const auto dev = img.device();
  if (const auto idx = select(n, [&](size_t i) { return params[i].zoom != 1.0; }); !idx.empty()) {
    std::vector<double> zoom;
    for (auto i : idx) zoom.push_back(params[static_cast<size_t>(i)].zoom);
    const auto it = index_tensor(idx, dev);
    img.index_copy_(0, it, zoom_batch(img.index_select(0, it), zoom, 0, /*border*/ 1));
    const auto l = zoom_batch(lab.index_select(0, it).to(torch::kFloat), zoom, /*nearest*/ 1, /*zeros*/ 0);
    lab.index_copy_(0, it, l.round().to(torch::kLong));
  }
  {
    std::vector<double> mult, shift;
    bool any = false;
    for (const auto& p : params) {
      mult.push_back(p.mult);
      shift.push_back(p.shift);
      any = any || p.mult != 1.0 || p.shift != 0.0;
    }
    if (any) img = img * per_sample(mult, img) + per_sample(shift, img);
  }
  if (const auto idx = select(n, [&](size_t i) { return params[i].gamma != 1.0; }); !idx.empty()) {
    std::vector<double> g;
    for (auto i : idx) g.push_back(params[static_cast<size_t>(i)].gamma);
    const auto it = index_tensor(idx, dev);
    auto sub = img.index_select(0, it);
    const auto flat = sub.reshape({sub.size(0), sub.size(1), -1});
    const auto mn = std::get<0>(flat.min(2, true)).unsqueeze(-1).unsqueeze(-1);
    const auto range = (std::get<0>(flat.max(2, true)).unsqueeze(-1).unsqueeze(-1) - mn).clamp_min(1e-8);
    auto res = ((sub - mn) / range).clamp(0.0, 1.0).pow(per_sample(g, sub)) * range + mn;
    img.index_copy_(0, it, res);
  }
  if (const auto idx = select(n, [&](size_t i) { return params[i].noise_std > 0.0; }); !idx.empty()) {
    add_noise_to(img, idx, params);
  }
  if (const auto idx = select(n, [&](size_t i) { return params[i].blur_sigma > 0.0; }); !idx.empty()) {
    std::vector<std::array<double, 3>> sig;
    std::vector<int> ks;
    for (auto i : idx) {
      const auto& p = params[static_cast<size_t>(i)];
      const std::array<double, 3> s{p.blur_sigma * p.axis_scale[0], p.blur_sigma * p.axis_scale[1],
                                    p.blur_sigma * p.axis_scale[2]};
      sig.push_back(s);
      ks.push_back(2 * static_cast<int>(std::ceil(3.0 * std::max({s[0], s[1], s[2]}))) + 1);
    }
    const auto it = index_tensor(idx, dev);
    img.index_copy_(0, it, gaussian_blur(img.index_select(0, it), sig, ks));
  }
  return {img, lab};
}

// ---- CPU path: the same results through fused per-sample loops (augment_cpu.h) ----------------

namespace {

/// Runs the 1D passes `pass(a, in, out)` for the axes in `axes`, ping-ponging between `p` and
/// `tmp`; the result ends in `p` (one copy at most).
template <class F>
void separable(float* p, float* tmp, int64_t n, const std::vector<int>& axes, F pass) {
  float* src = p;
  float* dst = tmp;
  for (int a : axes) {
    pass(a, src, dst);
    std::swap(src, dst);
  }
  if (src != p) std::memcpy(p, src, static_cast<size_t>(n) * sizeof(float));
}

/// Separable blur of one channel (sigma per axis in voxels), result in `p`.
void blur_cpu(float* p, float* tmp, const cpu::Shape3& shape, const std::array<double, 3>& sigma, int kernel) {
  std::vector<int> axes;
  for (int a = 2; a >= 0; --a) {
    if (sigma[static_cast<size_t>(a)] > 1e-6 && kernel > 1) axes.push_back(a);
  }
  separable(p, tmp, shape[0] * shape[1] * shape[2], axes, [&](int a, const float* in, float* out) {
    cpu::convolve_axis(in, shape, a, cpu::gaussian_taps(sigma[static_cast<size_t>(a)], kernel, kernel), out);
  });
}

/// Trilinear centred zoom of one channel, result in `p`.
void zoom_cpu(float* p, float* tmp, const cpu::Shape3& shape, double zoom) {
  separable(p, tmp, shape[0] * shape[1] * shape[2], {2, 1, 0},
            [&](int a, const float* in, float* out) { cpu::zoom_linear_axis(in, shape, a, zoom, out); });
}

torch::Tensor augment_pretrain_cpu(const torch::Tensor& x_in, const std::vector<PretrainViewParams>& params) {
  const auto x = x_in.to(torch::kFloat).contiguous();
  const cpu::Shape3 shape{x.size(2), x.size(3), x.size(4)};
  const int64_t n = shape[0] * shape[1] * shape[2];
  auto out = torch::empty_like(x);
  std::vector<float> tmp(static_cast<size_t>(n));
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    const float* in = x.data_ptr<float>() + static_cast<int64_t>(i) * n;
    float* o = out.data_ptr<float>() + static_cast<int64_t>(i) * n;
    float lo, hi;
    cpu::minmax(in, n, lo, hi);
    const float scale = hi - lo > 1e-8f ? 1.0f / (hi - lo) : 0.0f;
    cpu::AxisMap map;
    map.permute(p.perm);
    for (int a = 0; a < 3; ++a) {
      if (p.flip[a]) map.flip_axis(a);
    }
    if (p.op == PretrainOp::Flip) map.flip_axis(p.flip_axis);
    const auto oshape = map.out_shape(shape);
    GTGM_CHECK(oshape == shape,
               "augment_pretrain: transpose {} {} {} changes the view shape; only axes of equal size "
               "may be swapped",
               p.perm[0], p.perm[1], p.perm[2]);
    cpu::gather(in, shape, map, lo, scale, o);
    switch (p.op) {
      case PretrainOp::Rescale:
        zoom_cpu(o, tmp.data(), shape, p.zoom);
        break;
      case PretrainOp::Intensity: {
        float a, b;
        cpu::affine(o, n, static_cast<float>(p.contrast), static_cast<float>(p.brightness), true, a, b);
        break;
      }
      case PretrainOp::Noise: {
        auto noise = torch::from_blob(tmp.data(), {n}, torch::kFloat);
        auto gen = make_generator(torch::kCPU, p.noise_seed);
        noise.normal_(0.0, p.noise_std, gen);
        for (int64_t k = 0; k < n; ++k) o[k] += tmp[static_cast<size_t>(k)];
        break;
      }
      case PretrainOp::Blur:
        blur_cpu(o, tmp.data(), shape,
                 {p.blur_sigma * p.axis_scale[0], p.blur_sigma * p.axis_scale[1], p.blur_sigma * p.axis_scale[2]},
                 p.blur_kernel);
        break;
      case PretrainOp::Flip:
      case PretrainOp::None:
        break;
    }
    cpu::minmax(o, n, lo, hi);
    const float s2 = hi - lo > 1e-8f ? 1.0f / (hi - lo) : 0.0f;
    for (int64_t k = 0; k < n; ++k) o[k] = (o[k] - lo) * s2;
  }
  return out;
}

std::pair<torch::Tensor, torch::Tensor> augment_seg_cpu(const torch::Tensor& image_in, const torch::Tensor& label_in,
                                                        const std::vector<SegSampleParams>& params) {
  const auto image = image_in.to(torch::kFloat).contiguous();
  const auto label = label_in.to(torch::kLong).contiguous();
  const int64_t channels = image.size(1);
  const cpu::Shape3 shape{image.size(2), image.size(3), image.size(4)};
  const int64_t n = shape[0] * shape[1] * shape[2];
  auto img = torch::empty_like(image);
  auto lab = torch::empty_like(label);
  std::vector<float> tmp(static_cast<size_t>(n));
  std::vector<int64_t> ltmp;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    const auto ii = static_cast<int64_t>(i);
    cpu::AxisMap map;
    map.rot90(p.rot90);
    for (int a = 0; a < 3; ++a) {
      if (p.flip[a]) map.flip_axis(a);
    }
    GTGM_CHECK(map.out_shape(shape) == shape, "augment_seg: a quarter rotation needs H == W, got a {}x{} patch",
               shape[1], shape[2]);
    float* x = img.data_ptr<float>() + ii * channels * n;
    for (int64_t c = 0; c < channels; ++c)
      cpu::gather(image.data_ptr<float>() + (ii * channels + c) * n, shape, map, 0.0f, 1.0f, x + c * n);
    int64_t* y = lab.data_ptr<int64_t>() + ii * n;
    cpu::gather(label.data_ptr<int64_t>() + ii * n, shape, map, y);
    if (p.zoom != 1.0) {
      for (int64_t c = 0; c < channels; ++c) zoom_cpu(x + c * n, tmp.data(), shape, p.zoom);
      ltmp.resize(static_cast<size_t>(n));
      for (int a = 2; a >= 0; --a) {
        cpu::zoom_nearest_axis(y, shape, a, p.zoom, ltmp.data());
        std::memcpy(y, ltmp.data(), static_cast<size_t>(n) * sizeof(int64_t));
      }
    }
    auto sample = img[ii];  // [C, D, H, W], a view of x
    if (p.mult != 1.0 || p.shift != 0.0) sample.mul_(p.mult).add_(p.shift);
    if (p.gamma != 1.0) {
      for (int64_t c = 0; c < channels; ++c) {
        auto ch = sample[c];
        float lo, hi;
        cpu::minmax(x + c * n, n, lo, hi);
        const double range = std::max(static_cast<double>(hi - lo), 1e-8);
        ch.sub_(lo).div_(range).clamp_(0.0, 1.0).pow_(p.gamma).mul_(range).add_(lo);
      }
    }
    if (p.noise_std > 0.0) {
      auto noise = torch::empty({channels, shape[0], shape[1], shape[2]});
      auto gen = make_generator(torch::kCPU, p.noise_seed);
      noise.normal_(0.0, p.noise_std, gen);
      sample.add_(noise);
    }
    if (p.blur_sigma > 0.0) {
      const std::array<double, 3> s{p.blur_sigma * p.axis_scale[0], p.blur_sigma * p.axis_scale[1],
                                    p.blur_sigma * p.axis_scale[2]};
      const int k = 2 * static_cast<int>(std::ceil(3.0 * std::max({s[0], s[1], s[2]}))) + 1;
      for (int64_t c = 0; c < channels; ++c) blur_cpu(x + c * n, tmp.data(), shape, s, k);
    }
  }
  return {img, lab};
}

// The fused CPU loops serve CPU tensors unless GTGM_AUGMENT_CPU=tensor_ops (read once) asks for the
// generic tensor-op path, so that `gtgm bench data` can measure what the fused path buys
// (docs/performance.md).
bool fused_cpu(const torch::Tensor& t) {
  static const bool tensor_ops = [] {
    const char* v = std::getenv("GTGM_AUGMENT_CPU");
    return v != nullptr && std::string(v) == "tensor_ops";
  }();
  return t.device().is_cpu() && !tensor_ops;
}

}  // namespace

torch::Tensor augment_pretrain(const torch::Tensor& x, const std::vector<PretrainViewParams>& params) {
  check_pretrain_args(x, params);
  return fused_cpu(x) ? augment_pretrain_cpu(x, params) : augment_pretrain_tensor_ops(x, params);
}

std::pair<torch::Tensor, torch::Tensor> augment_seg(const torch::Tensor& image, const torch::Tensor& label,
                                                    const std::vector<SegSampleParams>& params) {
  check_seg_args(image, label, params);
  return fused_cpu(image) ? augment_seg_cpu(image, label, params) : augment_seg_tensor_ops(image, label, params);
}

}  // namespace gtgm::data
