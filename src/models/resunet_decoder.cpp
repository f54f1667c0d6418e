#include "gtgm/models/resunet_decoder.h"

#include <fmt/format.h>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::models {

namespace {

int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

}  // namespace

torch::Tensor center_crop_pad_add(const torch::Tensor& x, const torch::Tensor& y) {
  GTGM_CHECK(x.dim() == y.dim() && x.dim() >= 3 && x.size(0) == y.size(0) && x.size(1) == y.size(1),
             "center_crop_pad_add: x {} and y {} must be [B, C, *S] with the same B, C and rank",
             core::shape_str(x.sizes()), core::shape_str(y.sizes()));
  const int64_t dims = x.dim() - 2;
  bool equal = true, smaller = false;
  for (int64_t a = 0; a < dims; ++a) {
    equal = equal && x.size(a + 2) == y.size(a + 2);
    smaller = smaller || x.size(a + 2) < y.size(a + 2);
  }
  if (equal) return x + y;
  if (smaller) {
    // F.pad order: last axis first; amounts may be negative on axes where x is larger (crop).
    std::vector<int64_t> pad;
    for (int64_t a = dims - 1; a >= 0; --a) {
      const int64_t diff = y.size(a + 2) - x.size(a + 2);
      const int64_t before = floor_div2(diff);
      pad.push_back(before);
      pad.push_back(diff - before);
    }
    return torch::constant_pad_nd(x, pad, 0.0) + y;
  }
  torch::Tensor c = x;
  for (int64_t a = 0; a < dims; ++a) {
    const int64_t before = (x.size(a + 2) - y.size(a + 2)) / 2;
    c = c.narrow(a + 2, before, y.size(a + 2));
  }
  return c + y;
}

ResUNetDecoderImpl::ResUNetDecoderImpl(const ResUNetDecoderOptions& o) : options_(o) {
  const auto& f = o.features();
  GTGM_CHECK(f.size() == 5,
             "model.decoder: resunet needs the resnet3d encoder's 5 features (stem, layer1..layer4), got {}; "
             "use it with model.type: resnet3d",
             f.size());
  dims_ = static_cast<int>(f[0].stride.size());
  const auto d = static_cast<size_t>(dims_);
  for (size_t j = 2; j < 5; ++j) {
    for (size_t a = 0; a < d; ++a) {
      GTGM_CHECK(f[j].stride[a] == 2 * f[j - 1].stride[a],
                 "model.decoder: resunet upsamples by 2 between layers; encoder strides {} and {} are not",
                 core::shape_str(f[j - 1].stride), core::shape_str(f[j].stride));
    }
  }
  const Shape kernel = expand_shape(o.stem_kernel(), dims_, "model.stem_kernel");
  Shape pad;
  for (int64_t k : kernel) pad.push_back(k / 2);
  const Shape two(d, 2), k3(d, 3);
  auto block = [&](int64_t c) {
    torch::nn::Sequential s;
    s->push_back(Conv(ConvOptions(dims_, c, c, k3).bias(true)));
    s->push_back(torch::nn::ReLU());
    s->push_back(Conv(ConvOptions(dims_, c, c, k3).bias(true)));
    s->push_back(torch::nn::ReLU());
    return s;
  };
  upconvs_.resize(4, Conv(nullptr));
  blocks_.resize(4);
  for (size_t j = 4; j-- > 0;) {
    // upconv{j+1}: level j+1 -> level j (level 0 = stem channels at layer1's resolution).
    const int64_t in = f[j + 1].channels, out = f[j].channels;
    ConvOptions up = j == 0 ? ConvOptions(dims_, in, out, kernel).padding(pad)
                            : ConvOptions(dims_, in, out, two).stride(two);
    upconvs_[j] = register_module(fmt::format("upconv{}", j + 1), Conv(up.bias(true).transposed(true)));
    blocks_[j] = register_module(fmt::format("decoder{}", j + 1), block(out));
  }
  out_channels_ = {f[0].channels, f[1].channels, f[2].channels, f[3].channels};
  out_strides_ = {Shape(d, 1), f[1].stride, f[2].stride, f[3].stride};
}

std::vector<torch::Tensor> ResUNetDecoderImpl::forward(const torch::Tensor& x, const EncoderOutput& enc) {
  GTGM_CHECK(enc.features.size() == 5, "resunet decoder needs 5 encoder features (stem, layer1..4), got {}",
             enc.features.size());
  const auto& e = enc.features;
  const auto d = static_cast<size_t>(dims_);
  torch::Tensor x1 = e[0];  // the reference's encoder1 output: conv1, bn1, relu, maxpool
  if (options_.stem_pool()) x1 = max_pool(x1, dims_, Shape(d, 3), options_.stem_pool_stride(), Shape(d, 1));
  std::vector<torch::Tensor> maps(4);
  auto y = e[4];  // [B, C4, S / s4]
  for (size_t j = 4; j-- > 1;) {
    y = center_crop_pad_add(upconvs_[j]->forward(y), e[j]);  // [B, Cj, S / sj]
    y = blocks_[j]->forward(y);
    maps[j] = y;
  }
  y = center_crop_pad_add(upconvs_[0]->forward(y), x1);  // [B, C0, S / s1]
  const Shape size(x.sizes().begin() + 2, x.sizes().end());
  y = dims_ == 3 ? torch::adaptive_avg_pool3d(y, size) : torch::adaptive_avg_pool2d(y, size);  // [B, C0, *S]
  maps[0] = blocks_[0]->forward(y);
  return maps;
}

}  // namespace gtgm::models
