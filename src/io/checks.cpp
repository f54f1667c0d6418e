#include "gtgm/io/checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"

namespace gtgm::io {

namespace {

bool close(double a, double b, double tol) {
  return std::abs(a - b) <= tol * std::max({std::abs(a), std::abs(b), 1.0});
}

std::string vec3(const std::array<double, 3>& v) { return fmt::format("({:.6g}, {:.6g}, {:.6g})", v[0], v[1], v[2]); }

std::string mat3(const std::array<double, 9>& m) {
  return fmt::format("[[{:.6g}, {:.6g}, {:.6g}], [{:.6g}, {:.6g}, {:.6g}], [{:.6g}, {:.6g}, {:.6g}]]", m[0], m[1], m[2],
                     m[3], m[4], m[5], m[6], m[7], m[8]);
}

std::string shape_text(const std::array<int64_t, 3>& s) { return fmt::format("[{}, {}, {}]", s[0], s[1], s[2]); }

// Position [c, z, y, x] of flat index `i` in a [C, D, H, W] tensor.
std::string position_of(const torch::Tensor& t, int64_t i) {
  std::vector<int64_t> pos(static_cast<size_t>(t.dim()));
  for (int64_t a = t.dim() - 1; a >= 0; --a) {
    pos[static_cast<size_t>(a)] = i % t.size(a);
    i /= t.size(a);
  }
  return fmt::format("[{}]", fmt::join(pos, ", "));
}

std::string values_text(const std::vector<int64_t>& v, size_t max_items = 12) {
  std::vector<int64_t> shown(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(v.size(), max_items)));
  return fmt::format("{{{}{}}}", fmt::join(shown, ", "),
                     v.size() > max_items ? fmt::format(", ... ({} values)", v.size()) : "");
}

}  // namespace

bool is_orthonormal(const std::array<double, 9>& m, double tol) {
  for (int a = 0; a < 3; ++a) {
    for (int b = a; b < 3; ++b) {
      double dot = 0;
      for (int r = 0; r < 3; ++r) dot += m[static_cast<size_t>(r * 3 + a)] * m[static_cast<size_t>(r * 3 + b)];
      if (std::abs(dot - (a == b ? 1.0 : 0.0)) > tol) return false;
    }
  }
  return true;
}

void check_geometry_valid(const Geometry& g, const std::string& what) {
  for (double s : g.spacing)
    GTGM_CHECK(std::isfinite(s) && s > 0, "{}: spacing {} is invalid (expected positive finite values)", what,
               vec3(g.spacing));
  for (double o : g.origin) GTGM_CHECK(std::isfinite(o), "{}: origin {} is not finite", what, vec3(g.origin));
  GTGM_CHECK(is_orthonormal(g.direction),
             "{}: direction {} is not orthonormal (expected unit, mutually "
             "orthogonal columns within {}); the header is corrupt or sheared (fix the sform/qform or "
             "'space directions' of the file)",
             what, mat3(g.direction), kGeometryTolerance);
}

void check_allocation(const std::string& what, const std::string& shape, const std::vector<int64_t>& sizes,
                      int64_t element_size, int64_t limit_bytes) {
  double bytes = static_cast<double>(element_size);
  for (auto n : sizes) {
    GTGM_CHECK(n >= 0, "{}: declared size {} has a negative extent; the header is corrupt", what, shape);
    bytes *= static_cast<double>(n);
  }
  GTGM_CHECK(bytes <= static_cast<double>(limit_bytes),
             "{}: declared size {} would need {:.3g} GiB, above the limit of {:.3g} GiB (refused before "
             "allocating; the header may be corrupt, or raise the limit)",
             what, shape, bytes / (1 << 30), static_cast<double>(limit_bytes) / (1 << 30));
}

void check_header(const VolumeHeader& h, const ReadOptions& options) {
  if (options.check_direction) check_geometry_valid(h.geometry, h.path);
  GTGM_CHECK(!options.require_3d || h.channels == 1,
             "{}: expected a 3D volume, found a {}D file with {} channels (shape [C, D, H, W] = [{}, {}, {}, {}]); "
             "split it into 3D files or use it where channels are allowed",
             h.path, h.file_dims, h.channels, h.channels, h.shape[0], h.shape[1], h.shape[2]);
  const std::string shape = fmt::format("[C, D, H, W] = [{}, {}, {}, {}] of {}", h.channels, h.shape[0], h.shape[1],
                                        h.shape[2], h.stored_dtype);
  check_allocation(h.path, shape, {h.channels, h.shape[0], h.shape[1], h.shape[2]},
                   static_cast<int64_t>(c10::elementSize(h.dtype)), options.max_bytes);
}

void check_finite(const Volume& v) {
  if (!v.data.is_floating_point()) return;
  const auto bad = ~torch::isfinite(v.data);
  const int64_t n = bad.sum().item<int64_t>();
  if (n == 0) return;
  const int64_t nan = torch::isnan(v.data).sum().item<int64_t>();
  const int64_t first = bad.flatten().nonzero()[0][0].item<int64_t>();
  GTGM_THROW(
      "{}: {} non-finite voxels ({} NaN, {} Inf; first at [c, z, y, x] = {}); expected finite values. "
      "Fix the file, or read it with the non-finite policy 'zero'",
      v.source.empty() ? "volume" : v.source, n, nan, n - nan, position_of(v.data, first));
}

int64_t zero_non_finite(Volume& v) {
  if (!v.data.is_floating_point()) return 0;
  const auto bad = ~torch::isfinite(v.data);
  const int64_t n = bad.sum().item<int64_t>();
  if (n > 0) v.data.masked_fill_(bad, 0);
  return n;
}

void apply_non_finite_policy(Volume& v, NonFinitePolicy policy) {
  if (policy == NonFinitePolicy::Error) {
    check_finite(v);
  } else if (policy == NonFinitePolicy::Zero) {
    const int64_t n = zero_non_finite(v);
    if (n > 0) GTGM_WARN("{}: replaced {} NaN/Inf voxels by 0", v.source, n);
  }
}

std::string geometry_mismatch(const Volume& a, const Volume& b, double tol) {
  std::vector<std::string> diffs;
  if (a.shape() != b.shape())
    diffs.push_back(fmt::format("shape [D, H, W] {} vs {}", shape_text(a.shape()), shape_text(b.shape())));
  const auto& ga = a.geometry;
  const auto& gb = b.geometry;
  bool sp = true, org = true, dir = true;
  for (size_t i = 0; i < 3; ++i) {
    sp = sp && close(ga.spacing[i], gb.spacing[i], tol);
    org = org && close(ga.origin[i], gb.origin[i], tol);
  }
  for (size_t i = 0; i < 9; ++i) dir = dir && std::abs(ga.direction[i] - gb.direction[i]) <= tol;
  if (!sp) diffs.push_back(fmt::format("spacing {} vs {}", vec3(ga.spacing), vec3(gb.spacing)));
  if (!org) diffs.push_back(fmt::format("origin {} vs {}", vec3(ga.origin), vec3(gb.origin)));
  if (!dir) diffs.push_back(fmt::format("direction {} vs {}", mat3(ga.direction), mat3(gb.direction)));
  return fmt::format("{}", fmt::join(diffs, "; "));
}

void check_same_geometry(const Volume& image, const Volume& label, double tol) {
  const auto diff = geometry_mismatch(image, label, tol);
  GTGM_CHECK(diff.empty(),
             "image {} and label {} do not share a voxel grid: {} (expected the same shape and "
             "spacing/origin/direction within {} relative). Resample the label onto the image grid with "
             "nearest-neighbour interpolation, or, if only the header differs, copy the image header into the label",
             image.source, label.source, diff, tol);
}

void check_3d(const Volume& v, const std::string& role) {
  GTGM_CHECK(v.channels() == 1,
             "{} {}: expected a 3D volume, found {} channels (a 4D file, shape [C, D, H, W] = "
             "[{}, {}, {}, {}])",
             role, v.source, v.channels(), v.channels(), v.shape()[0], v.shape()[1], v.shape()[2]);
}

std::vector<int64_t> label_values(const Volume& label) {
  auto t = label.data;
  if (t.is_floating_point()) {
    check_finite(label);
    const auto frac = t != t.round();
    if (frac.any().item<bool>()) {
      const int64_t n = frac.sum().item<int64_t>();
      const int64_t first = frac.flatten().nonzero()[0][0].item<int64_t>();
      GTGM_THROW(
          "label {}: {} voxels hold non-integer values (e.g. {} at [c, z, y, x] = {}); expected integer "
          "class ids. Was the label resampled with linear interpolation? Re-export it with nearest-neighbour "
          "interpolation and an integer type",
          label.source, n, t.flatten()[first].item<double>(), position_of(t, first));
    }
  }
  if (t.numel() == 0) return {};
  auto flat = t.flatten().to(torch::kLong);
  const auto mm = torch::aminmax(flat);
  const int64_t lo = std::get<0>(mm).item<int64_t>();
  const int64_t hi = std::get<1>(mm).item<int64_t>();
  std::vector<int64_t> values;
  if (hi - lo < (int64_t(1) << 24)) {
    // Counting is much faster than sorting for label maps with a small value range.
    auto counts = torch::bincount(flat - lo, {}, hi - lo + 1);
    auto present = counts.nonzero().flatten();
    auto acc = present.accessor<int64_t, 1>();
    for (int64_t i = 0; i < present.size(0); ++i) values.push_back(acc[i] + lo);
  } else {
    auto u = std::get<0>(torch::_unique(flat, /*sorted=*/true));
    auto acc = u.accessor<int64_t, 1>();
    for (int64_t i = 0; i < u.size(0); ++i) values.push_back(acc[i]);
  }
  return values;
}

std::vector<int64_t> check_labels(const Volume& label, const std::vector<int64_t>& declared) {
  check_3d(label, "label");
  const auto values = label_values(label);
  if (declared.empty()) return values;
  const std::set<int64_t> known(declared.begin(), declared.end());
  std::vector<int64_t> unknown;
  for (auto v : values)
    if (!known.count(v)) unknown.push_back(v);
  if (unknown.empty()) return values;
  const bool mask_255 = values.size() <= 2 && unknown == std::vector<int64_t>{255} && values.back() == 255 &&
                        (values.size() == 1 || values.front() == 0);
  GTGM_CHECK(!mask_255,
             "label {}: values {} look like a 0/255 binary mask, but the declared labels are {}; "
             "expected 0/1. Divide the mask by 255 (e.g. numpy: (label > 0).astype(np.uint8); "
             "fslmaths in -div 255 out -odt char) or declare label 255",
             label.source, values_text(values), values_text(declared));
  GTGM_THROW(
      "label {}: values {} are not among the declared labels {}; fix the file or add them to the dataset's "
      "labels",
      label.source, values_text(unknown), values_text(declared));
}

std::vector<Problem> check_cases(const std::vector<CaseFiles>& cases, const DatasetCheckOptions& options) {
  std::vector<std::vector<Problem>> per_case(cases.size());
  auto check_one = [&](size_t ci) {
    const auto& c = cases[ci];
    auto& out = per_case[ci];
    auto record = [&](const std::string& file, const auto& fn) -> bool {
      try {
        fn();
        return true;
      } catch (const Error& e) {
        out.push_back({c.id, file, e.message()});
      } catch (const std::exception& e) {
        out.push_back({c.id, file, fmt::format("{}: {}", file, e.what())});
      }
      return false;
    };
    if (c.images.empty()) out.push_back({c.id, "", "case has no image file"});
    std::vector<Volume> images;
    for (const auto& f : c.images) {
      Volume v;
      if (record(f, [&] { v = read_volume(f, options.read); })) images.push_back(std::move(v));
    }
    for (size_t i = 1; i < images.size(); ++i) {
      const auto diff = geometry_mismatch(images[0], images[i], options.geometry_tolerance);
      if (!diff.empty())
        out.push_back({c.id, images[i].source,
                       fmt::format("channel files {} and {} do not share a voxel grid: {}", images[0].source,
                                   images[i].source, diff)});
    }
    if (c.label.empty()) return;
    ReadOptions lo = options.read;
    lo.require_3d = true;
    Volume label;
    if (!record(c.label, [&] { label = read_volume(c.label, lo); })) return;
    if (!images.empty()) record(c.label, [&] { check_same_geometry(images[0], label, options.geometry_tolerance); });
    record(c.label, [&] { check_labels(label, options.labels); });
  };
  const int threads = std::max(1, std::min<int>(options.num_threads, static_cast<int>(cases.size())));
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < cases.size(); i = next++) check_one(i);
  };
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  std::vector<Problem> all;
  for (auto& p : per_case) all.insert(all.end(), p.begin(), p.end());
  return all;
}

std::string format_problems(const std::vector<Problem>& problems) {
  if (problems.empty()) return "no problems found\n";
  std::set<std::string> ids;
  for (const auto& p : problems) ids.insert(p.case_id);
  std::string out = fmt::format("{} problem(s) in {} case(s):\n", problems.size(), ids.size());
  for (const auto& p : problems) out += fmt::format("  [{}] {}\n", p.case_id, p.message);
  return out;
}

}  // namespace gtgm::io
