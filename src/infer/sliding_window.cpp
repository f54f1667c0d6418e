#include "gtgm/infer/sliding_window.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "gtgm/core/error.h"
#include "shape_util.h"

namespace gtgm::infer {

namespace {

using torch::indexing::Slice;

void check_options(const SlidingWindowOptions& o) {
  for (int a = 0; a < 3; ++a)
    GTGM_CHECK(o.patch_size[a] >= 1, "sliding window: patch size must be >= 1 on every axis, got [{}, {}, {}]",
               o.patch_size[0], o.patch_size[1], o.patch_size[2]);
  GTGM_CHECK(o.overlap >= 0 && o.overlap < 1, "sliding window: overlap must be in [0, 1), got {}", o.overlap);
  GTGM_CHECK(o.sigma_scale > 0, "sliding window: sigma_scale must be > 0, got {}", o.sigma_scale);
  GTGM_CHECK(o.batch_size >= 1, "sliding window: batch_size must be >= 1, got {}", o.batch_size);
  GTGM_CHECK(o.accumulate_dtype == torch::kFloat || o.accumulate_dtype == torch::kHalf,
             "sliding window: accumulate_dtype must be float32 or float16, got {}", c10::toString(o.accumulate_dtype));
  for (size_t i = 0; i < o.mirror_axes.size(); ++i) {
    GTGM_CHECK(o.mirror_axes[i] >= 0 && o.mirror_axes[i] <= 2,
               "sliding window: mirror axes are spatial axes 0 (D), 1 (H), 2 (W), got {}", o.mirror_axes[i]);
    for (size_t j = 0; j < i; ++j)
      GTGM_CHECK(o.mirror_axes[i] != o.mirror_axes[j], "sliding window: mirror axis {} listed twice", o.mirror_axes[i]);
  }
}

// Sum over all windows of the 1-D importance profile placed at each start: [size] float.
torch::Tensor axis_normaliser(int64_t size, const std::vector<int64_t>& starts, const torch::Tensor& profile) {
  torch::Tensor sum = torch::zeros({size}, profile.options());
  const int64_t p = profile.size(0);
  for (int64_t s : starts) sum.index({Slice(s, s + p)}).add_(profile);
  return sum;
}

// predictor output for one batch, averaged over the mirror flips when TTA is on: [N, K, pd, ph, pw] float.
torch::Tensor predict_batch(const torch::Tensor& x, const ForwardFn& predictor, const SlidingWindowOptions& o) {
  auto run = [&](const torch::Tensor& in) {
    torch::Tensor out = predictor(in);
    GTGM_CHECK(out.defined() && out.dim() == 5 && out.size(0) == in.size(0) && out.size(2) == in.size(2) &&
                   out.size(3) == in.size(3) && out.size(4) == in.size(4),
               "sliding window: the predictor returned shape {} for a batch of windows of shape {}; expected "
               "[N, K, pd, ph, pw] with the batch's N and window size",
               detail::shape_of(out), detail::shape_of(in));
    return out.to(torch::kFloat);
  };
  if (!o.mirror_tta || o.mirror_axes.empty()) return run(x);
  const size_t m = o.mirror_axes.size();
  torch::Tensor sum;
  for (size_t mask = 0; mask < (size_t{1} << m); ++mask) {
    std::vector<int64_t> dims;
    for (size_t b = 0; b < m; ++b)
      if (mask & (size_t{1} << b)) dims.push_back(o.mirror_axes[b] + 2);
    torch::Tensor y = dims.empty() ? run(x) : run(x.flip(dims)).flip(dims);
    sum = sum.defined() ? sum.add_(y) : y;
  }
  return sum.div_(static_cast<double>(size_t{1} << m));
}

}  // namespace

SlidingWindowOptions sliding_window_options(const config::EvalConfig& cfg, const std::array<int64_t, 3>& patch_size,
                                            const torch::Device& device) {
  SlidingWindowOptions o;
  o.patch_size = patch_size;
  o.overlap = cfg.overlap;
  o.blend = cfg.blend;
  o.sigma_scale = cfg.sigma_scale;
  o.mirror_tta = cfg.mirror_tta;
  o.batch_size = cfg.sw_batch_size;
  o.device = device;
  o.accumulate_dtype = cfg.accumulate_dtype == config::AccumulateDtype::Float16 ? torch::kHalf : torch::kFloat;
  return o;
}

std::vector<int64_t> window_starts(int64_t size, int64_t patch, double overlap) {
  GTGM_CHECK(patch >= 1 && size >= patch, "window_starts: axis of {} voxels is shorter than the patch ({})", size,
             patch);
  GTGM_CHECK(overlap >= 0 && overlap < 1, "window_starts: overlap must be in [0, 1), got {}", overlap);
  const double target = std::max(1.0, static_cast<double>(patch) * (1.0 - overlap));
  const int64_t n = static_cast<int64_t>(std::ceil(static_cast<double>(size - patch) / target)) + 1;
  if (n == 1) return {0};
  const double step = static_cast<double>(size - patch) / static_cast<double>(n - 1);
  std::vector<int64_t> starts(n);
  // nearbyint rounds half to even, as numpy.round in nnU-Net's compute_steps_for_sliding_window.
  for (int64_t i = 0; i < n; ++i) starts[i] = static_cast<int64_t>(std::nearbyint(step * static_cast<double>(i)));
  return starts;
}

torch::Tensor importance_profile(int64_t patch, config::Blend blend, double sigma_scale) {
  GTGM_CHECK(patch >= 1, "importance_profile: patch must be >= 1, got {}", patch);
  if (blend == config::Blend::Constant) return torch::ones({patch}, torch::kFloat64);
  const double centre = static_cast<double>(patch - 1) / 2.0;
  const double sigma = sigma_scale * static_cast<double>(patch);
  torch::Tensor i = torch::arange(patch, torch::kFloat64);
  torch::Tensor g = (-(i - centre).pow(2) / (2.0 * sigma * sigma)).exp();
  return g / g.max();
}

torch::Tensor sliding_window_inference(const torch::Tensor& image, const ForwardFn& predictor,
                                       const SlidingWindowOptions& options) {
  check_options(options);
  GTGM_CHECK(image.defined() && image.dim() == 4 && image.numel() > 0,
             "sliding window: expected a non-empty image [C, D, H, W], got shape {}", detail::shape_of(image));
  GTGM_CHECK(predictor, "sliding window: no predictor given");
  torch::NoGradGuard no_grad;
  const auto& patch = options.patch_size;
  const std::array<int64_t, 3> size{image.size(1), image.size(2), image.size(3)};

  // Pad axes shorter than the patch (evenly before/after); remember the crop.
  std::array<int64_t, 3> before{}, padded{};
  std::vector<int64_t> pads(6, 0);  // constant_pad_nd order: W, H, D
  for (int a = 0; a < 3; ++a) {
    const int64_t missing = std::max<int64_t>(0, patch[a] - size[a]);
    before[a] = missing / 2;
    padded[a] = size[a] + missing;
    pads[2 * (2 - a)] = before[a];
    pads[2 * (2 - a) + 1] = missing - before[a];
  }
  const bool needs_pad = padded != size;
  torch::Tensor src = needs_pad ? torch::constant_pad_nd(image, pads, options.pad_value) : image;

  std::array<std::vector<int64_t>, 3> starts;
  std::array<torch::Tensor, 3> profile, norm;
  const auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(options.device);
  for (int a = 0; a < 3; ++a) {
    starts[a] = window_starts(padded[a], patch[a], options.overlap);
    profile[a] = importance_profile(patch[a], options.blend, options.sigma_scale).to(fopt);
    norm[a] = axis_normaliser(padded[a], starts[a], profile[a]);
  }
  torch::Tensor weight = profile[0].view({-1, 1, 1}) * profile[1].view({1, -1, 1}) * profile[2].view({1, 1, -1});

  std::vector<std::array<int64_t, 3>> windows;
  for (int64_t z : starts[0])
    for (int64_t y : starts[1])
      for (int64_t x : starts[2]) windows.push_back({z, y, x});

  torch::Tensor acc;  // [K, D', H', W'], created once K is known
  for (size_t first = 0; first < windows.size(); first += static_cast<size_t>(options.batch_size)) {
    const size_t last = std::min(windows.size(), first + static_cast<size_t>(options.batch_size));
    std::vector<torch::Tensor> crops;
    for (size_t w = first; w < last; ++w) {
      const auto& s = windows[w];
      crops.push_back(src.index(
          {Slice(), Slice(s[0], s[0] + patch[0]), Slice(s[1], s[1] + patch[1]), Slice(s[2], s[2] + patch[2])}));
    }
    torch::Tensor batch = torch::stack(crops).to(fopt);
    torch::Tensor out = predict_batch(batch, predictor, options).mul_(weight);  // [N, K, pd, ph, pw]
    if (!acc.defined()) {
      acc = torch::zeros({out.size(1), padded[0], padded[1], padded[2]},
                         torch::TensorOptions().dtype(options.accumulate_dtype).device(options.device));
    }
    GTGM_CHECK(out.size(1) == acc.size(0), "sliding window: the predictor returned {} channels, earlier batches had {}",
               out.size(1), acc.size(0));
    for (size_t w = first; w < last; ++w) {
      const auto& s = windows[w];
      acc.index({Slice(), Slice(s[0], s[0] + patch[0]), Slice(s[1], s[1] + patch[1]), Slice(s[2], s[2] + patch[2])})
          .add_(out[static_cast<int64_t>(w - first)].to(options.accumulate_dtype));
    }
  }
  // The summed importance is separable: divide by its three 1-D factors in turn.
  acc.div_(norm[0].view({1, -1, 1, 1}).to(acc.scalar_type()))
      .div_(norm[1].view({1, 1, -1, 1}).to(acc.scalar_type()))
      .div_(norm[2].view({1, 1, 1, -1}).to(acc.scalar_type()));
  if (!needs_pad) return acc;
  return acc
      .index({Slice(), Slice(before[0], before[0] + size[0]), Slice(before[1], before[1] + size[1]),
              Slice(before[2], before[2] + size[2])})
      .contiguous();
}

namespace {

// Index of the first maximum over the K class planes of a CPU float tensor [K, ...] whose planes are
// each contiguous, as torch::argmax(0) defines it (a NaN counts as the maximum; the first NaN wins).
// torch's own reduction over the outer dimension walks one voxel at a time (0.2-0.4 s for
// [3, 128^3] on 2 threads); this loop reads each class plane in order.
template <typename Label>
void first_max_index_cpu(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t k = logits.size(0);
  const int64_t n = logits.numel() / k;
  const int64_t plane = logits.stride(0);
  const float* base = logits.data_ptr<float>();
  Label* out = labels.data_ptr<Label>();
  at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
    constexpr int64_t kChunk = 1024;
    float best[kChunk];
    for (int64_t c0 = begin; c0 < end; c0 += kChunk) {
      const int64_t len = std::min(kChunk, end - c0);
      const float* first = base + c0;
      for (int64_t i = 0; i < len; ++i) {
        best[i] = first[i];
        out[c0 + i] = 0;
      }
      for (int64_t cls = 1; cls < k; ++cls) {
        const float* v = base + cls * plane + c0;
        for (int64_t i = 0; i < len; ++i) {
          // Greater, or the first NaN after a number: best stays NaN once it is NaN.
          const bool take = v[i] > best[i] || (std::isnan(v[i]) && !std::isnan(best[i]));
          best[i] = take ? v[i] : best[i];
          out[c0 + i] = take ? static_cast<Label>(cls) : out[c0 + i];
        }
      }
    }
  });
}

}  // namespace

torch::Tensor argmax_labels(const torch::Tensor& logits, int64_t slab) {
  GTGM_CHECK(logits.defined() && logits.dim() == 4, "argmax_labels: expected logits [K, D, H, W], got shape {}",
             detail::shape_of(logits));
  GTGM_CHECK(slab >= 1, "argmax_labels: slab must be >= 1, got {}", slab);
  GTGM_CHECK(logits.size(0) >= 1, "argmax_labels: logits have no classes (shape {})", detail::shape_of(logits));
  const bool narrow = logits.size(0) <= 256;
  const auto dtype = narrow ? torch::kUInt8 : torch::kInt16;
  torch::Tensor labels =
      torch::empty({logits.size(1), logits.size(2), logits.size(3)}, torch::TensorOptions().dtype(dtype));
  if (labels.numel() == 0) return labels;
  auto first_max = [narrow](const torch::Tensor& planes, torch::Tensor out) {
    if (narrow)
      first_max_index_cpu<uint8_t>(planes, out);
    else
      first_max_index_cpu<int16_t>(planes, out);
  };
  if (logits.device().is_cpu() && logits.scalar_type() == torch::kFloat && logits[0].is_contiguous()) {
    first_max(logits, labels);  // one pass, no copy
    return labels;
  }
  for (int64_t z = 0; z < logits.size(1); z += slab) {
    const int64_t end = std::min(logits.size(1), z + slab);
    torch::Tensor part = logits.index({Slice(), Slice(z, end)});
    if (!part.device().is_cpu())
      labels.index({Slice(z, end)}).copy_(part.to(torch::kFloat).argmax(0).to(dtype).cpu());
    else
      first_max(part.to(torch::kFloat).contiguous(), labels.index({Slice(z, end)}));
  }
  return labels;
}

torch::Tensor sliding_window_segment(const torch::Tensor& image, const ForwardFn& predictor,
                                     const SlidingWindowOptions& options) {
  return argmax_labels(sliding_window_inference(image, predictor, options));
}

}  // namespace gtgm::infer
