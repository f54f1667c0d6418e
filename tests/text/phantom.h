#pragma once
/// Test images shared by the text tests (captioners and caption runs).
#include <torch/torch.h>

#include <cstdint>

namespace gtgm::test {

/// CT-like phantom [D, H, W] in HU: air outside, a fat ring, soft tissue, a bone disc on one side.
inline torch::Tensor ct_slice_phantom(int64_t d, int64_t h, int64_t w) {
  auto zz = torch::arange(d).view({d, 1, 1}).to(torch::kFloat);
  auto yy = torch::arange(h).view({1, h, 1}).to(torch::kFloat);
  auto xx = torch::arange(w).view({1, 1, w}).to(torch::kFloat);
  auto r = ((yy - h / 2.0).pow(2) + (xx - w / 2.0).pow(2)).sqrt() + 0 * zz;
  auto vol = torch::full({d, h, w}, -1000.0);
  vol = torch::where(r < 0.45 * w, torch::full_like(vol, -100.0), vol);
  vol = torch::where(r < 0.38 * w, torch::full_like(vol, 40.0), vol);
  auto bone = ((yy - h / 2.0).pow(2) + (xx - 0.7 * w).pow(2)).sqrt() + 0 * zz;
  vol = torch::where(bone < 0.06 * w, torch::full_like(vol, 700.0), vol);
  return vol;
}

}  // namespace gtgm::test
