#pragma once
/// Input checks with clear errors: each names the file, what was expected and what was found.
/// Single checks throw gtgm::Error; check_cases() runs them all over a dataset and returns every
/// problem at once (used by `gtgm plan --check`).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "gtgm/io/volume.h"
#include "gtgm/io/volume_io.h"

namespace gtgm::io {

/// Tolerance of geometry comparisons: spacing, origin and direction must agree within this,
/// relative to max(|a|, |b|, 1) per component (so 1e-8 noise from resampling or float32 headers
/// passes, a 0.1 mm shift does not).
inline constexpr double kGeometryTolerance = 1e-4;

/// Whether the row-major 3x3 matrix has unit, mutually orthogonal columns within `tol`.
bool is_orthonormal(const std::array<double, 9>& direction, double tol = kGeometryTolerance);

/// Throws unless geometry.direction is orthonormal and spacing is positive and finite.
/// `what` names the file.
void check_geometry_valid(const Geometry& geometry, const std::string& what);

/// Throws before allocating when the product of `sizes` times `element_size` bytes exceeds
/// `limit_bytes` (computed in double: corrupt headers can declare sizes whose product overflows).
/// `what` names the file, `shape_text` its declared size.
void check_allocation(const std::string& what, const std::string& shape_text, const std::vector<int64_t>& sizes,
                      int64_t element_size, int64_t limit_bytes);

/// The checks read_volume applies to a header before allocating: orthonormal direction (when
/// options.check_direction), one channel (when options.require_3d), allocation limit.
void check_header(const VolumeHeader& header, const ReadOptions& options);

/// Applies `policy` to freshly read voxels: Error -> check_finite, Zero -> zero_non_finite with a
/// warning, Allow -> nothing.
void apply_non_finite_policy(Volume& volume, NonFinitePolicy policy);

/// Throws when a floating-point volume holds NaN or Inf voxels (count and first position
/// [c, z, y, x] in the message). Integer volumes always pass.
void check_finite(const Volume& volume);

/// Replaces NaN/Inf voxels by 0; returns how many there were.
int64_t zero_non_finite(Volume& volume);

/// "" when `a` and `b` have the same spatial shape {D, H, W} and the same spacing, origin and
/// direction within `tol`; otherwise a description of the first differences ("shape [..] vs [..]",
/// "spacing (..) vs (..)", ...). Channels are not compared.
std::string geometry_mismatch(const Volume& a, const Volume& b, double tol = kGeometryTolerance);

/// Throws when image and label geometry differ (see geometry_mismatch), naming both files and
/// suggesting how to fix (resample the label onto the image with nearest neighbour, or copy the
/// header when only float noise differs).
void check_same_geometry(const Volume& image, const Volume& label, double tol = kGeometryTolerance);

/// Throws when the volume has C != 1 (a 4D file where a 3D volume is expected).
void check_3d(const Volume& volume, const std::string& role);

/// Label checks: one channel, integer values (float files must hold whole numbers), every value
/// in `declared` (when non-empty), and the 0/255 mask mistake (values {0, 255} while 255 is not
/// declared: the message says to divide by 255). Returns the sorted distinct values.
std::vector<int64_t> check_labels(const Volume& label, const std::vector<int64_t>& declared);

/// Sorted distinct values of an integer-valued volume (float volumes are checked to be integral).
std::vector<int64_t> label_values(const Volume& label);

/// One case of a dataset: its channel files (one entry per channel file) and optional label.
struct CaseFiles {
  std::string id;
  std::vector<std::string> images;
  std::string label;  ///< "" when unlabeled
};

/// One problem found by check_cases.
struct Problem {
  std::string case_id;
  std::string file;
  std::string message;
};

struct DatasetCheckOptions {
  std::vector<int64_t> labels;  ///< declared label values (empty = do not check membership)
  ReadOptions read;             ///< limits and policies applied when reading each file
  double geometry_tolerance = kGeometryTolerance;
  int num_threads = 1;  ///< cases checked in parallel
};

/// Reads every file of every case and runs all checks above (readability, size limit, direction,
/// NaN/Inf, channel files agreeing with each other, image vs label geometry, label values,
/// 3D labels). Never throws for a bad case: returns all problems, in case order.
std::vector<Problem> check_cases(const std::vector<CaseFiles>& cases, const DatasetCheckOptions& options = {});

/// Multi-line report: "N problem(s) in M case(s):" then "  [case] message" lines.
std::string format_problems(const std::vector<Problem>& problems);

}  // namespace gtgm::io
