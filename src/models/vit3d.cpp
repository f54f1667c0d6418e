#include "gtgm/models/vit3d.h"

#include <fmt/format.h>

#include <cmath>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"
#include "gtgm/models/flops.h"

namespace gtgm::models {

namespace {

int64_t product(const Shape& s) {
  int64_t p = 1;
  for (int64_t v : s) p *= v;
  return p;
}

}  // namespace

// ---- SelfAttention -------------------------------------------------------------------------------
SelfAttentionImpl::SelfAttentionImpl(int64_t hidden, int64_t heads, double dropout) : heads_(heads), dropout_(dropout) {
  GTGM_CHECK(heads > 0 && hidden % heads == 0, "vit3d: {} heads do not divide hidden size {}", heads, hidden);
  qkv_ = register_module("qkv", Linear(hidden, 3 * hidden, true, 0.02));
  proj_ = register_module("proj", Linear(hidden, hidden, true, 0.02));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2), dh = c / heads_;
  auto qkv = qkv_->forward(x).reshape({b, n, 3, heads_, dh}).permute({2, 0, 3, 1, 4});  // [3, B, h, N, dh]
  auto q = qkv[0], k = qkv[1], v = qkv[2];
  auto attn = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(dh)));  // [B, h, N, N]
  attn = torch::softmax(attn, -1);
  auto y = torch::matmul(attn, v);  // [B, h, N, dh]
  if (detail::flops_active()) detail::add_flops("attention", 2 * 2 * b * heads_ * n * n * dh);
  y = y.transpose(1, 2).reshape({b, n, c});  // [B, N, hidden]
  return torch::dropout(proj_->forward(y), dropout_, is_training());
}

// ---- TransformerBlock ----------------------------------------------------------------------------
TransformerBlockImpl::TransformerBlockImpl(int64_t hidden, int64_t heads, int64_t mlp_dim, double dropout)
    : dropout_(dropout) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
  attn_ = register_module("attn", SelfAttention(hidden, heads, dropout));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  fc1_ = mlp->register_module("fc1", Linear(hidden, mlp_dim, true, 0.02));
  fc2_ = mlp->register_module("fc2", Linear(mlp_dim, hidden, true, 0.02));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x) {
  auto y = x + attn_->forward(norm1_->forward(x));
  auto h = torch::dropout(torch::gelu(fc1_->forward(norm2_->forward(y))), dropout_, is_training());
  return y + torch::dropout(fc2_->forward(h), dropout_, is_training());
}

// ---- position embeddings ---------------------------------------------------------------------------
torch::Tensor sincos_position_embedding(const Shape& grid, int64_t hidden) {
  const auto dims = static_cast<int64_t>(grid.size());
  GTGM_CHECK(hidden % (2 * dims) == 0, "sin-cos position embedding needs hidden size {} divisible by {}", hidden,
             2 * dims);
  const int64_t per_axis = hidden / dims, half = per_axis / 2;
  auto omega = torch::arange(half, torch::kDouble) / static_cast<double>(half);
  omega = 1.0 / torch::pow(10000.0, omega);  // [half]
  std::vector<torch::Tensor> axes;
  for (int64_t g : grid) axes.push_back(torch::arange(g, torch::kDouble));
  auto mesh = torch::meshgrid(axes, "ij");  // dims x [*grid]
  std::vector<torch::Tensor> parts;
  for (const auto& m : mesh) {
    auto out = m.reshape({-1, 1}) * omega.reshape({1, -1});  // [N, half]
    parts.push_back(torch::sin(out));
    parts.push_back(torch::cos(out));
  }
  return torch::cat(parts, 1).to(torch::kFloat);  // [N, hidden]
}

// ---- ViT3d ---------------------------------------------------------------------------------------
ViT3dImpl::ViT3dImpl(const config::EncoderConfig& shared, const config::ViT3dConfig& o)
    : EncoderImpl("vit3d", shared.spatial_dims, shared.in_channels), options_(o) {
  const int d = shared.spatial_dims;
  GTGM_CHECK(d == 2 || d == 3, "vit3d: spatial_dims must be 2 or 3, got {}", d);
  patch_ = expand_shape(to_shape(o.patch_size), d, "model.patch_size");
  input_size_ = expand_shape(to_shape(o.input_size), d, "model.input_size");
  const Shape& patch = patch_;
  Shape grid;
  for (int a = 0; a < d; ++a) {
    const auto i = static_cast<size_t>(a);
    GTGM_CHECK(input_size_[i] % patch[i] == 0,
               "vit3d: model.input_size {} is not a multiple of "
               "model.patch_size {}",
               core::shape_str(input_size_), core::shape_str(patch));
    grid.push_back(input_size_[i] / patch[i]);
  }
  const int64_t hidden = o.hidden_size;
  if (o.pos_embed == config::PosEmbed::SinCos) {
    GTGM_CHECK(hidden % (2 * d) == 0, "vit3d: model.pos_embed sincos needs model.hidden_size ({}) divisible by {}",
               hidden, 2 * d);
  }

  patch_embed_ = register_module("patch_embed", Conv(ConvOptions(d, shared.in_channels, hidden, patch)
                                                         .stride(patch)
                                                         .padding(Shape(static_cast<size_t>(d), 0))
                                                         .bias(true)));
  if (o.pos_embed == config::PosEmbed::Learnable) {
    pos_embed_ = register_parameter("pos_embed", torch::randn({1, product(grid), hidden}) * 0.02);
  }
  torch::nn::ModuleList list;
  for (int64_t i = 0; i < o.num_layers; ++i) {
    blocks_.push_back(TransformerBlock(hidden, o.num_heads, o.mlp_dim, o.dropout));
    list->push_back(blocks_.back());
  }
  register_module("blocks", list);
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));

  // UNETR taps: one token grid per decoder level.
  int64_t levels = 0;
  for (int64_t p : patch) {
    int64_t l = 0;
    while ((int64_t{1} << l) < p) ++l;
    levels = std::max(levels, l);
  }
  const int64_t num_layers = o.num_layers;
  levels = std::max<int64_t>(1, std::min(levels, num_layers));
  for (int64_t k = 1; k <= levels; ++k) {
    taps_.push_back(std::max<int64_t>(1, (k * num_layers + levels / 2) / levels));
    features_.push_back({hidden, patch});
  }
  init_embedding(hidden, shared.embed_dim);
}

torch::Tensor ViT3dImpl::position_embedding(const Shape& grid) {
  if (options_.pos_embed == config::PosEmbed::SinCos) {
    return sincos_position_embedding(grid, options_.hidden_size).unsqueeze(0).to(patch_embed_->weight.device());
  }
  const int d = spatial_dims();
  Shape base;
  for (int a = 0; a < d; ++a) {
    base.push_back(input_size_[static_cast<size_t>(a)] / patch_[static_cast<size_t>(a)]);
  }
  if (base == grid) return pos_embed_;
  // [1, N0, C] -> [1, C, *base] -> resize -> [1, N, C]
  Shape as_image{1};
  as_image.insert(as_image.end(), base.begin(), base.end());
  as_image.push_back(options_.hidden_size);
  std::vector<int64_t> perm{0, d + 1};
  for (int a = 1; a <= d; ++a) perm.push_back(a);
  auto img = pos_embed_.reshape(as_image).permute(perm);
  auto resized = resize_linear(img, grid);  // [1, C, *grid]
  return resized.flatten(2).transpose(1, 2);
}

EncoderOutput ViT3dImpl::forward(const torch::Tensor& x) {
  check_input(x, required_divisor(), "vit3d");
  auto tokens = patch_embed_->forward(x);  // [B, hidden, *grid]
  Shape grid(tokens.sizes().begin() + 2, tokens.sizes().end());
  const int64_t b = tokens.size(0), hidden = options_.hidden_size;
  tokens = tokens.flatten(2).transpose(1, 2);  // [B, N, hidden]
  tokens = torch::dropout(tokens + position_embedding(grid).to(tokens.dtype()), options_.dropout, is_training());
  EncoderOutput out;
  auto to_grid = [&](const torch::Tensor& t) {  // [B, N, hidden] -> [B, hidden, *grid]
    Shape s{b, hidden};
    s.insert(s.end(), grid.begin(), grid.end());
    return t.transpose(1, 2).reshape(s);
  };
  size_t next_tap = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    tokens = blocks_[i]->forward(tokens);
    const bool last = i + 1 == blocks_.size();
    if (last) tokens = norm_->forward(tokens);
    while (next_tap < taps_.size() && taps_[next_tap] == static_cast<int64_t>(i + 1)) {
      out.features.push_back(to_grid(tokens));
      ++next_tap;
    }
  }
  out.pooled = embed(tokens.mean(1));  // [B, embed_dim]
  return out;
}

}  // namespace gtgm::models
