#pragma once
// Small volumes with awkward geometry for the io tests.
#include <torch/torch.h>

#include <cmath>

#include "gtgm/io/volume.h"

namespace gtgm::test {

/// A rotation of 30 degrees about z composed with a flip of y: orthonormal, det -1, not a permutation.
inline io::Geometry oblique_geometry() {
  io::Geometry g;
  g.spacing = {0.75, 1.25, 3.5};
  g.origin = {-100.5, 20.25, 33.125};
  const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
  g.direction = {c, s, 0, s, -c, 0, 0, 0, 1};
  return g;
}

/// A proper rotation (det +1) of 30 degrees about z: what DICOM can store (its slice normal is
/// the cross product of row and column directions).
inline io::Geometry rotated_geometry() {
  io::Geometry g = oblique_geometry();
  const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
  g.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
  return g;
}

/// [C, D, H, W] = [c, 4, 5, 6] of `dtype` with distinct values (a ramp scaled to fit the type).
inline io::Volume ramp_volume(torch::ScalarType dtype, int64_t c = 1, int64_t d = 4, int64_t h = 5, int64_t w = 6) {
  io::Volume v;
  auto t = torch::arange(c * d * h * w, torch::kDouble).reshape({c, d, h, w});
  if (dtype == torch::kByte) t = t.remainder(251);
  if (dtype == torch::kChar) t = t.remainder(200) - 100;
  if (dtype == torch::kShort) t = t * 7 - 300;
  if (dtype == torch::kFloat || dtype == torch::kDouble) t = t * 0.5 - 17.25;
  if (dtype == torch::kLong) t = t * 100000000;
  v.data = t.to(dtype);
  v.geometry = oblique_geometry();
  return v;
}

}  // namespace gtgm::test
