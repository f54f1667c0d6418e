#include "gtgm/models/swin_decoder.h"

#include <fmt/format.h>

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::models {

SwinUpBlockImpl::SwinUpBlockImpl(const BlockSpec& spec, int64_t in, int64_t out, const Shape& factor) {
  const Shape k3(static_cast<size_t>(spec.dims), 3), one(static_cast<size_t>(spec.dims), 1);
  transp_conv_ = register_module(
      "transp_conv", Conv(ConvOptions(spec.dims, in, out, factor).stride(factor).transposed(true)));
  conv_block_ = register_module("conv_block", ResidualBlock(spec, 2 * out, out, k3, one));
}

torch::Tensor SwinUpBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& skip) {
  auto y = transp_conv_->forward(x);
  GTGM_CHECK(y.sizes() == skip.sizes(), "swin_unetr decoder: upsampled {} does not match skip {}",
             core::shape_str(y.sizes()), core::shape_str(skip.sizes()));
  return conv_block_->forward(torch::cat({y, skip}, 1));
}

SwinUNETRDecoderImpl::SwinUNETRDecoderImpl(const SwinUNETRDecoderOptions& o) : options_(o) {
  const BlockSpec& spec = o.block();
  GTGM_CHECK(spec.dims == 3, "swin_unetr decoder: 3D only, got {} dims", spec.dims);
  const int64_t fs = o.feature_size();
  const Shape k3(3, 3), one(3, 1), two(3, 2);
  const Shape patch = expand_shape(o.patch_size(), 3, "model.swin_patch_size");
  const int64_t enc_in[4] = {o.in_channels(), fs, 2 * fs, 4 * fs};
  const int64_t enc_out[4] = {fs, fs, 2 * fs, 4 * fs};
  for (int i = 0; i < 4; ++i) {
    encoders_.push_back(register_module(fmt::format("encoder{}", i + 1),
                                        ResidualBlock(spec, enc_in[i], enc_out[i], k3, one)));
  }
  // decoder{j+1}: in -> out channels; decoder1 keeps fs and upsamples by the patch size.
  const int64_t dec_in[5] = {fs, 2 * fs, 4 * fs, 8 * fs, 16 * fs};
  const int64_t dec_out[5] = {fs, fs, 2 * fs, 4 * fs, 8 * fs};
  for (int j = 0; j < 5; ++j) {
    decoders_.push_back(register_module(fmt::format("decoder{}", j + 1),
                                        SwinUpBlock(spec, dec_in[j], dec_out[j], j == 0 ? patch : two)));
  }
  Shape stride(3, 1);
  for (int j = 0; j < 5; ++j) {
    out_channels_.push_back(dec_out[j]);
    out_strides_.push_back(stride);
    for (size_t a = 0; a < 3; ++a) stride[a] *= j == 0 ? patch[a] : 2;
  }
}

std::vector<torch::Tensor> SwinUNETRDecoderImpl::forward(const torch::Tensor& x, const EncoderOutput& enc) {
  GTGM_CHECK(enc.features.size() == 5,
             "swin_unetr decoder needs the swin3d encoder's 5 features, got {}; use it with model.type: swin3d",
             enc.features.size());
  const auto& f = enc.features;
  const auto enc0 = encoders_[0]->forward(x);     // [B, fs, *S]
  const auto enc1 = encoders_[1]->forward(f[0]);  // [B, fs, S/p]
  const auto enc2 = encoders_[2]->forward(f[1]);  // [B, 2fs, S/2p]
  const auto enc3 = encoders_[3]->forward(f[2]);  // [B, 4fs, S/4p]
  std::vector<torch::Tensor> maps(5);
  maps[4] = decoders_[4]->forward(f[4], f[3]);     // dec3 [B, 8fs, S/8p]
  maps[3] = decoders_[3]->forward(maps[4], enc3);  // dec2 [B, 4fs, S/4p]
  maps[2] = decoders_[2]->forward(maps[3], enc2);  // dec1 [B, 2fs, S/2p]
  maps[1] = decoders_[1]->forward(maps[2], enc1);  // dec0 [B, fs, S/p]
  maps[0] = decoders_[0]->forward(maps[1], enc0);  // out [B, fs, *S]
  return maps;
}

}  // namespace gtgm::models
