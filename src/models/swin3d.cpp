#include "gtgm/models/swin3d.h"

#include <fmt/format.h>

#include <cmath>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::models {

namespace {

/// A Python index into a sequence of length n: negative counts from the end, clamped to [0, n].
int64_t py_index(int64_t i, int64_t n) { return i < 0 ? std::max<int64_t>(0, i + n) : std::min(i, n); }

bool any_positive(const Shape& s) {
  for (int64_t v : s) {
    if (v > 0) return true;
  }
  return false;
}

/// Holder module for a named level of the reference's module tree ("swinViT", "patch_embed", "mlp").
std::shared_ptr<torch::nn::Module> holder() { return std::make_shared<torch::nn::Module>(); }

}  // namespace

torch::Tensor window_partition(const torch::Tensor& x, const Shape& w) {
  GTGM_CHECK(x.dim() == 5 && w.size() == 3, "window_partition expects [B, D, H, W, C] and a 3-axis window, got {}",
             core::shape_str(x.sizes()));
  const int64_t b = x.size(0), d = x.size(1), h = x.size(2), wd = x.size(3), c = x.size(4);
  GTGM_CHECK(d % w[0] == 0 && h % w[1] == 0 && wd % w[2] == 0, "window_partition: size {} is not a multiple of {}",
             core::shape_str(x.sizes()), core::shape_str(w));
  return x.view({b, d / w[0], w[0], h / w[1], w[1], wd / w[2], w[2], c})
      .permute({0, 1, 3, 5, 2, 4, 6, 7})
      .contiguous()
      .view({-1, w[0] * w[1] * w[2], c});
}

torch::Tensor window_reverse(const torch::Tensor& windows, const Shape& w, const Shape& dims) {
  const int64_t b = dims[0], d = dims[1], h = dims[2], wd = dims[3];
  return windows.view({b, d / w[0], h / w[1], wd / w[2], w[0], w[1], w[2], -1})
      .permute({0, 1, 4, 2, 5, 3, 6, 7})
      .contiguous()
      .view({b, d, h, wd, -1});
}

std::pair<Shape, Shape> effective_window(const Shape& size, const Shape& window, const Shape& shift) {
  Shape w = window, s = shift;
  for (size_t a = 0; a < size.size(); ++a) {
    if (size[a] <= window[a]) {
      w[a] = size[a];
      s[a] = 0;
    }
  }
  return {w, s};
}

torch::Tensor shifted_window_mask(const Shape& dims, const Shape& window, const Shape& shift,
                                  const torch::Device& device) {
  // The three regions per axis of the reference's slices slice(-w), slice(-w, -s), slice(-s, None).
  auto regions = [&](size_t a) {
    const int64_t n = dims[a], w = window[a], s = shift[a];
    return std::vector<std::pair<int64_t, int64_t>>{
        {0, py_index(-w, n)}, {py_index(-w, n), py_index(-s, n)}, {py_index(-s, n), n}};
  };
  auto img = torch::zeros({1, dims[0], dims[1], dims[2], 1});
  int64_t cnt = 0;
  for (const auto& [d0, d1] : regions(0)) {
    for (const auto& [h0, h1] : regions(1)) {
      for (const auto& [w0, w1] : regions(2)) {
        if (d1 > d0 && h1 > h0 && w1 > w0) {
          img.slice(1, d0, d1).slice(2, h0, h1).slice(3, w0, w1).fill_(static_cast<double>(cnt));
        }
        ++cnt;
      }
    }
  }
  auto mw = window_partition(img, window).squeeze(-1);  // [nW, N]
  auto diff = mw.unsqueeze(1) - mw.unsqueeze(2);        // [nW, N, N]
  return torch::where(diff != 0, torch::full_like(diff, -100.0), torch::zeros_like(diff)).to(device);
}

// ---- WindowAttention ---------------------------------------------------------------------------
WindowAttentionImpl::WindowAttentionImpl(int64_t dim, int64_t heads, const Shape& w) : heads_(heads) {
  GTGM_CHECK(heads > 0 && dim % heads == 0, "swin3d: {} heads do not divide {} channels (model.swin_heads)", heads,
             dim);
  scale_ = 1.0 / std::sqrt(static_cast<double>(dim / heads));
  relative_position_bias_table = register_parameter(
      "relative_position_bias_table", torch::zeros({(2 * w[0] - 1) * (2 * w[1] - 1) * (2 * w[2] - 1), heads}));
  {
    torch::NoGradGuard ng;
    relative_position_bias_table.normal_(0.0, 0.02).clamp_(-2.0, 2.0);  // MONAI trunc_normal_(std=0.02), a=-2, b=2
  }
  auto grids = torch::meshgrid({torch::arange(w[0]), torch::arange(w[1]), torch::arange(w[2])}, "ij");
  auto coords = torch::stack(grids).flatten(1);                             // [3, N]
  auto rel = (coords.unsqueeze(2) - coords.unsqueeze(1)).permute({1, 2, 0}).contiguous();  // [N, N, 3]
  rel.select(2, 0).add_(w[0] - 1).mul_((2 * w[1] - 1) * (2 * w[2] - 1));
  rel.select(2, 1).add_(w[1] - 1).mul_(2 * w[2] - 1);
  rel.select(2, 2).add_(w[2] - 1);
  relative_position_index = register_buffer("relative_position_index", rel.sum(-1));
  qkv_ = register_module("qkv", Linear(dim, 3 * dim));
  proj_ = register_module("proj", Linear(dim, dim));
}

torch::Tensor WindowAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2);
  auto qkv = qkv_->forward(x).reshape({b, n, 3, heads_, c / heads_}).permute({2, 0, 3, 1, 4});
  auto q = qkv[0] * scale_, k = qkv[1], v = qkv[2];  // [b, heads, n, d]
  auto attn = torch::matmul(q, k.transpose(-2, -1));  // [b, heads, n, n]
  auto index = relative_position_index.slice(0, 0, n).slice(1, 0, n).reshape({-1});
  auto bias = relative_position_bias_table.index_select(0, index).reshape({n, n, -1}).permute({2, 0, 1});
  attn = attn + bias.unsqueeze(0);
  if (mask.defined()) {
    const int64_t nw = mask.size(0);
    attn = attn.view({b / nw, nw, heads_, n, n}) + mask.to(attn.dtype()).unsqueeze(1).unsqueeze(0);
    attn = attn.view({-1, heads_, n, n});
  }
  attn = torch::softmax(attn, -1).to(v.dtype());
  return proj_->forward(torch::matmul(attn, v).transpose(1, 2).reshape({b, n, c}));
}

// ---- SwinBlock ---------------------------------------------------------------------------------
SwinBlockImpl::SwinBlockImpl(int64_t dim, int64_t heads, const Shape& window, const Shape& shift, double mlp_ratio)
    : window_(window), shift_(shift) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attn_ = register_module("attn", WindowAttention(dim, heads, window));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  auto mlp = register_module("mlp", holder());
  const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);  // int(dim * mlp_ratio)
  linear1_ = mlp->register_module("linear1", Linear(dim, hidden));
  linear2_ = mlp->register_module("linear2", Linear(hidden, dim));
}

torch::Tensor SwinBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t b = x.size(0), c = x.size(4);
  const Shape size = {x.size(1), x.size(2), x.size(3)};
  const auto [w, s] = effective_window(size, window_, shift_);
  auto y = norm1_->forward(x);
  Shape padded(3);
  for (size_t a = 0; a < 3; ++a) padded[a] = (size[a] + w[a] - 1) / w[a] * w[a];
  const bool pad = padded != size;
  if (pad) y = torch::constant_pad_nd(y, {0, 0, 0, padded[2] - size[2], 0, padded[1] - size[1], 0, padded[0] - size[0]});
  const bool shifted = any_positive(s);
  if (shifted) y = torch::roll(y, {-s[0], -s[1], -s[2]}, {1, 2, 3});
  auto windows = attn_->forward(window_partition(y, w), shifted ? mask : torch::Tensor());
  y = window_reverse(windows.view({-1, w[0], w[1], w[2], c}), w, {b, padded[0], padded[1], padded[2]});
  if (shifted) y = torch::roll(y, {s[0], s[1], s[2]}, {1, 2, 3});
  if (pad) y = y.slice(1, 0, size[0]).slice(2, 0, size[1]).slice(3, 0, size[2]).contiguous();
  auto out = x + y;
  return out + linear2_->forward(torch::gelu(linear1_->forward(norm2_->forward(out))));
}

// ---- PatchMerging ------------------------------------------------------------------------------
PatchMergingImpl::PatchMergingImpl(int64_t dim) {
  reduction_ = register_module("reduction", Linear(8 * dim, 2 * dim, /*bias=*/false));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({8 * dim})));
}

torch::Tensor PatchMergingImpl::forward(const torch::Tensor& x) {
  const int64_t d = x.size(1), h = x.size(2), w = x.size(3);
  auto y = x;
  if (d % 2 == 1 || h % 2 == 1 || w % 2 == 1) y = torch::constant_pad_nd(y, {0, 0, 0, w % 2, 0, h % 2, 0, d % 2});
  // MONAI PatchMerging (v0.9) order, including its repeated (0,1,0) and (0,0,1) slices.
  static const int64_t kOffsets[8][3] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1},
                                         {1, 0, 1}, {0, 1, 0}, {0, 0, 1}, {1, 1, 1}};
  std::vector<torch::Tensor> parts;
  for (const auto& o : kOffsets) {
    parts.push_back(y.slice(1, o[0], c10::nullopt, 2).slice(2, o[1], c10::nullopt, 2).slice(3, o[2], c10::nullopt, 2));
  }
  return reduction_->forward(norm_->forward(torch::cat(parts, -1)));
}

// ---- SwinStage ---------------------------------------------------------------------------------
SwinStageImpl::SwinStageImpl(int64_t dim, int64_t depth, int64_t heads, const Shape& window, double mlp_ratio)
    : window_(window) {
  for (int64_t v : window) shift_.push_back(v / 2);
  torch::nn::ModuleList blocks;
  for (int64_t i = 0; i < depth; ++i) {
    blocks_.push_back(SwinBlock(dim, heads, window, i % 2 == 0 ? Shape(window.size(), 0) : shift_, mlp_ratio));
    blocks->push_back(blocks_.back());
  }
  register_module("blocks", blocks);
  downsample_ = register_module("downsample", PatchMerging(dim));
}

torch::Tensor SwinStageImpl::forward(const torch::Tensor& x) {
  const Shape size = {x.size(2), x.size(3), x.size(4)};
  const auto [w, s] = effective_window(size, window_, shift_);
  Shape padded(3);
  for (size_t a = 0; a < 3; ++a) padded[a] = (size[a] + w[a] - 1) / w[a] * w[a];
  const auto mask = shifted_window_mask(padded, w, s, x.device());
  auto y = x.permute({0, 2, 3, 4, 1});  // [B, D, H, W, C]
  for (auto& blk : blocks_) y = blk->forward(y, mask);
  return downsample_->forward(y).permute({0, 4, 1, 2, 3}).contiguous();  // [B, 2C, D/2, H/2, W/2]
}

// ---- Swin3d ------------------------------------------------------------------------------------
Swin3dImpl::Swin3dImpl(const config::EncoderConfig& shared, const config::Swin3dConfig& o)
    : EncoderImpl("swin3d", shared.spatial_dims, shared.in_channels), options_(o) {
  GTGM_CHECK(shared.spatial_dims == 3, "swin3d: model.spatial_dims must be 3, got {}", shared.spatial_dims);
  GTGM_CHECK(o.depths.size() == 4 && o.heads.size() == 4,
             "swin3d: model.swin_depths and model.swin_heads need 4 entries (stages), got {} and {}", o.depths.size(),
             o.heads.size());
  patch_ = expand_shape(to_shape(o.patch_size), 3, "model.swin_patch_size");
  const Shape window = expand_shape(to_shape(o.window), 3, "model.swin_window");
  for (int64_t p : patch_) divisor_.push_back(p * 16);
  const int64_t fs = o.feature_size;
  auto vit = register_module("swinViT", holder());
  auto patch_embed = vit->register_module("patch_embed", holder());
  patch_embed_ = patch_embed->register_module(
      "proj", Conv(ConvOptions(3, shared.in_channels, fs, patch_).stride(patch_).padding(Shape(3, 0)).bias(true)));
  Shape stride = patch_;
  features_.push_back({fs, stride});
  for (int i = 0; i < 4; ++i) {
    const int64_t dim = fs << i;
    torch::nn::ModuleList layer;
    stages_.push_back(SwinStage(dim, o.depths[static_cast<size_t>(i)], o.heads[static_cast<size_t>(i)], window,
                                o.mlp_ratio));
    layer->push_back(stages_.back());
    vit->register_module(fmt::format("layers{}", i + 1), layer);
    for (auto& v : stride) v *= 2;
    features_.push_back({2 * dim, stride});
  }
  const BlockSpec spec{3, NormKind::Instance, shared.norm_groups, ActKind::LeakyReLU};  // MONAI "instance"
  encoder10_ = register_module("encoder10", ResidualBlock(spec, 16 * fs, 16 * fs, Shape(3, 3), Shape(3, 1)));
  init_embedding(16 * fs, shared.embed_dim);
}

torch::Tensor Swin3dImpl::proj_out(const torch::Tensor& x) const {
  if (!options_.normalize) return x;
  auto y = x.permute({0, 2, 3, 4, 1});  // [B, D, H, W, C]
  return torch::layer_norm(y, {x.size(1)}).permute({0, 4, 1, 2, 3});
}

EncoderOutput Swin3dImpl::forward(const torch::Tensor& x) {
  GTGM_CHECK(x.defined() && x.dim() == 5, "swin3d expects input [B, C, D, H, W], got {}",
             x.defined() ? core::shape_str(x.sizes()) : "an undefined tensor");
  bool ok = true;
  for (size_t a = 0; a < 3; ++a) ok = ok && x.size(static_cast<int64_t>(a) + 2) % divisor_[a] == 0;
  if (!ok) {
    GTGM_THROW(
        "swin3d cannot take input size {}: every size must be a multiple of {} (model.swin_patch_size {} x 2^4 "
        "stages, SwinUNETR's img_size check); set data.crop_size (and eval patch sizes) to multiples of it",
        fmt::join(x.sizes().begin() + 2, x.sizes().end(), "x"), fmt::join(divisor_, "x"), fmt::join(patch_, "x"));
  }
  check_input(x, divisor_, "swin3d");
  EncoderOutput out;
  auto y = patch_embed_->forward(x);  // [B, fs, S / p]
  out.features.push_back(proj_out(y));
  for (size_t i = 0; i < stages_.size(); ++i) {
    y = stages_[i]->forward(y);  // [B, fs 2^(i+1), S / (p 2^(i+1))]
    auto h = proj_out(y);
    out.features.push_back(i + 1 == stages_.size() ? encoder10_->forward(h) : h);
  }
  out.pooled = embed(global_avg_pool(out.features.back()));  // [B, embed_dim]
  return out;
}

}  // namespace gtgm::models
