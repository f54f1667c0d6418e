#pragma once
/// The one in-memory volume type of gtgm: voxels as a tensor [C, D, H, W] plus the physical
/// geometry needed to write results back where they came from.
///
/// Axis convention (fixed; every reader/writer and transform follows it):
///  - tensor dims D, H, W are ITK index axes k, j, i (i is the fastest-varying axis in the file),
///    i.e. [C, z, y, x] for an axial scan.
///  - spacing, origin and direction are in ITK's physical (LPS) convention and axis order
///    (x, y, z): spacing[0] is the size of a step along W, spacing[2] along D.
///  - direction is row-major 3x3; column a is the unit direction of index axis a (i, j, k).
#include <torch/torch.h>

#include <array>
#include <string>

namespace gtgm::io {

struct Geometry {
  std::array<double, 3> spacing{1.0, 1.0, 1.0};                ///< mm (nm for EM), order (x, y, z) = (W, H, D)
  std::array<double, 3> origin{0.0, 0.0, 0.0};                 ///< physical position of voxel (0, 0, 0)
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};  ///< row-major 3x3

  /// Spacing in tensor order (D, H, W).
  std::array<double, 3> spacing_dhw() const { return {spacing[2], spacing[1], spacing[0]}; }
  /// Direction element (row r, column c): component r of index axis c's unit vector.
  double dir(int r, int c) const { return direction[static_cast<size_t>(r * 3 + c)]; }
};

struct Volume {
  torch::Tensor data;  ///< [C, D, H, W], on CPU, dtype as stored (use .to(kFloat) to compute)
  Geometry geometry;
  std::string source;  ///< file or folder it was read from ("" when made in memory)
  /// Component type in the file ("uint8", "int16", "uint16", "float32", ...; "" when made in
  /// memory). It differs from data.dtype() only where LibTorch 1.13 lacks the type: uint16 is
  /// held as int32, uint32/uint64 as int64; write_volume writes this type back when values fit.
  std::string stored_dtype;

  int64_t channels() const { return data.size(0); }
  /// {D, H, W}
  std::array<int64_t, 3> shape() const { return {data.size(1), data.size(2), data.size(3)}; }
};

}  // namespace gtgm::io
