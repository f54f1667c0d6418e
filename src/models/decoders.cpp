#include "gtgm/models/decoders.h"

#include <fmt/format.h>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::models {

namespace {

Shape spatial_of(const torch::Tensor& t) { return Shape(t.sizes().begin() + 2, t.sizes().end()); }

bool is_unit_stride(const Shape& s) {
  for (int64_t v : s) {
    if (v != 1) return false;
  }
  return true;
}

}  // namespace

// ---- UNetDecoder ---------------------------------------------------------------------------------
UNetDecoderImpl::UNetDecoderImpl(const UNetDecoderOptions& o) : options_(o) {
  const auto& f = o.features();
  GTGM_CHECK(f.size() >= 2, "unet decoder needs an encoder with at least 2 feature levels, got {}", f.size());
  const size_t levels = f.size() - 1;
  GTGM_CHECK(o.channels().empty() || o.channels().size() == levels,
             "model.decoder_channels has {} entries but the encoder has {} skip levels (give {} or [])",
             o.channels().size(), levels, levels);
  const BlockSpec& spec = o.block();
  const Shape k3(static_cast<size_t>(spec.dims), 3);
  std::vector<int64_t> ch(levels);
  for (size_t j = 0; j < levels; ++j) {
    ch[j] = o.channels().empty() ? std::min(f[j].channels, o.max_channels()) : o.channels()[j];
  }
  // Stride ratios between consecutive levels must be whole numbers to upsample exactly.
  auto ratio = [&](const Shape& hi, const Shape& lo, size_t j) {
    Shape r;
    for (size_t a = 0; a < hi.size(); ++a) {
      GTGM_CHECK(lo[a] % hi[a] == 0, "unet decoder: encoder stride {} of level {} is not a multiple of {} of level {}",
                 core::shape_str(lo), j + 1, core::shape_str(hi), j);
      r.push_back(lo[a] / hi[a]);
    }
    return r;
  };
  ups_.resize(levels, Upsample(nullptr));
  blocks_.resize(levels, DoubleConv(nullptr));
  torch::nn::ModuleList ups, blocks;
  for (size_t jj = levels; jj-- > 0;) {
    const int64_t in = jj + 1 == levels ? f[jj + 1].channels : ch[jj + 1];
    ups_[jj] = Upsample(spec.dims, in, ch[jj], ratio(f[jj].stride, f[jj + 1].stride, jj), o.transposed());
    blocks_[jj] = DoubleConv(spec, ch[jj] + f[jj].channels, ch[jj], k3, Shape{1});
  }
  for (size_t j = 0; j < levels; ++j) {
    ups->push_back(ups_[j]);
    blocks->push_back(blocks_[j]);
  }
  register_module("ups", ups);
  register_module("blocks", blocks);
  if (!is_unit_stride(f[0].stride)) {
    const int64_t cf = std::max<int64_t>(1, ch[0] / 2);
    final_up_ = register_module("final_up", Upsample(spec.dims, ch[0], cf, f[0].stride, o.transposed()));
    final_block_ = register_module("final_block", DoubleConv(spec, cf, cf, k3, Shape{1}));
    out_channels_.push_back(cf);
    out_strides_.push_back(Shape(static_cast<size_t>(spec.dims), 1));
  }
  for (size_t j = 0; j < levels; ++j) {
    out_channels_.push_back(ch[j]);
    out_strides_.push_back(f[j].stride);
  }
}

std::vector<torch::Tensor> UNetDecoderImpl::forward(const torch::Tensor& x, const EncoderOutput& enc) {
  const auto& f = options_.features();
  GTGM_CHECK(enc.features.size() == f.size(), "unet decoder built for {} encoder features, got {}", f.size(),
             enc.features.size());
  const size_t levels = f.size() - 1;
  std::vector<torch::Tensor> maps(levels);
  auto y = enc.features.back();  // [B, C_{F-1}, deepest]
  for (size_t jj = levels; jj-- > 0;) {
    const auto& skip = enc.features[jj];
    y = ups_[jj]->forward(y, spatial_of(skip));  // [B, ch_j, skip size]
    y = blocks_[jj]->forward(torch::cat({y, skip}, 1));
    maps[jj] = y;
  }
  if (final_up_) {
    Shape target = spatial_of(x);
    auto top = final_block_->forward(final_up_->forward(maps[0], target));  // [B, cf, *S]
    maps.insert(maps.begin(), top);
  }
  return maps;
}

// ---- UNETRDecoder --------------------------------------------------------------------------------
UNETRDecoderImpl::UNETRDecoderImpl(const UNETRDecoderOptions& o) : options_(o) {
  const BlockSpec& spec = o.block();
  const int d = spec.dims;
  GTGM_CHECK(d == o.spatial_dims(), "unetr decoder: block dims {} != spatial_dims {}", d, o.spatial_dims());
  const Shape patch = expand_shape(o.patch_size(), d, "model.patch_size");
  for (int64_t p : patch) {
    GTGM_CHECK(p > 0 && (p & (p - 1)) == 0, "model.decoder: unetr needs power-of-two patch sizes, got {}",
               core::shape_str(patch));
    int64_t l = 0;
    while ((int64_t{1} << l) < p) ++l;
    levels_ = std::max(levels_, l);
  }
  GTGM_CHECK(levels_ >= 1, "model.decoder: unetr needs a patch size > 1 on some axis, got {}", core::shape_str(patch));
  const int64_t L = levels_;
  auto stride_at = [&](int64_t j) {
    Shape s;
    for (int64_t p : patch) s.push_back(std::min<int64_t>(int64_t{1} << j, p));
    return s;
  };
  auto factor = [&](int64_t j) {  // level j+1 -> j
    Shape hi = stride_at(j + 1), lo = stride_at(j), r;
    for (size_t a = 0; a < hi.size(); ++a) r.push_back(hi[a] / lo[a]);
    return r;
  };
  auto tconv = [&](int64_t in, int64_t out, const Shape& f) {
    return Conv(ConvOptions(d, in, out, f).stride(f).transposed(true));
  };
  const Shape k3(static_cast<size_t>(d), 3), one(static_cast<size_t>(d), 1);
  auto ch = [&](int64_t j) { return o.feature_size() << j; };

  encoder0_ = register_module("encoder0", ResidualBlock(spec, o.in_channels(), ch(0), k3, one));
  torch::nn::ModuleList skips;
  for (int64_t k = 1; k < L; ++k) {
    torch::nn::Sequential seq;
    seq->push_back(tconv(o.hidden_size(), ch(k), factor(L - 1)));
    for (int64_t m = L - 1; m > k; --m) {
      seq->push_back(tconv(ch(k), ch(k), factor(m - 1)));
      seq->push_back(ResidualBlock(spec, ch(k), ch(k), k3, one));
    }
    skips_.push_back(seq);
    skips->push_back(seq);
  }
  register_module("skips", skips);
  torch::nn::ModuleList ups, blocks;
  up_convs_.resize(static_cast<size_t>(L), Conv(nullptr));
  up_blocks_.resize(static_cast<size_t>(L), ResidualBlock(nullptr));
  for (int64_t j = 0; j < L; ++j) {
    const int64_t in = j + 1 == L ? o.hidden_size() : ch(j + 1);
    up_convs_[static_cast<size_t>(j)] = tconv(in, ch(j), factor(j));
    up_blocks_[static_cast<size_t>(j)] = ResidualBlock(spec, 2 * ch(j), ch(j), k3, one);
    ups->push_back(up_convs_[static_cast<size_t>(j)]);
    blocks->push_back(up_blocks_[static_cast<size_t>(j)]);
    out_channels_.push_back(ch(j));
    out_strides_.push_back(stride_at(j));
  }
  register_module("ups", ups);
  register_module("blocks", blocks);
}

std::vector<torch::Tensor> UNETRDecoderImpl::forward(const torch::Tensor& x, const EncoderOutput& enc) {
  const auto L = static_cast<size_t>(levels_);
  GTGM_CHECK(enc.features.size() == L,
             "unetr decoder needs {} token grids (one per level), got {}; use it with vit3d of the same patch size", L,
             enc.features.size());
  std::vector<torch::Tensor> skip(L);
  skip[0] = encoder0_->forward(x);                                                       // [B, fs, *S]
  for (size_t k = 1; k < L; ++k) skip[k] = skips_[k - 1]->forward(enc.features[k - 1]);  // [B, fs 2^k, S / s_k]
  std::vector<torch::Tensor> maps(L);
  auto y = enc.features[L - 1];  // [B, hidden, S / patch]
  for (size_t jj = L; jj-- > 0;) {
    y = up_convs_[jj]->forward(y);
    GTGM_CHECK(y.sizes() == skip[jj].sizes(), "unetr decoder: upsampled {} does not match skip {} at level {}",
               core::shape_str(y.sizes()), core::shape_str(skip[jj].sizes()), jj);
    y = up_blocks_[jj]->forward(torch::cat({y, skip[jj]}, 1));
    maps[jj] = y;
  }
  return maps;
}

}  // namespace gtgm::models
