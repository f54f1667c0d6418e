#include "gtgm/io/io_info.h"

#include <fmt/format.h>

#include <cmath>

#include "gtgm/io/volume_io.h"

#ifdef GTGM_WITH_ITK
#include <itkVersion.h>
#endif

namespace gtgm::io {

namespace {

// Anatomical direction each index axis (i, j, k) points to, in ITK's LPS frame: "LPS" for an
// identity direction (the same letters nibabel's aff2axcodes gives for that file).
std::string orientation_codes(const Geometry& g) {
  static const char* pos = "LPS";
  static const char* neg = "RAI";
  std::string out;
  for (int c = 0; c < 3; ++c) {
    int best = 0;
    for (int r = 1; r < 3; ++r)
      if (std::abs(g.dir(r, c)) > std::abs(g.dir(best, c))) best = r;
    out += g.dir(best, c) >= 0 ? pos[best] : neg[best];
  }
  return out;
}

}  // namespace

std::string itk_version() {
#ifdef GTGM_WITH_ITK
  return itk::Version::GetITKVersion();
#else
  return "not built with ITK";
#endif
}

std::string describe_volume(const std::filesystem::path& path) {
  ReadOptions ro;
  ro.non_finite = NonFinitePolicy::Allow;  // report them instead of refusing
  const auto header = read_volume_header(path, ro);
  const auto v = read_volume(path, ro);
  const auto& g = v.geometry;
  const auto [d, h, w] = v.shape();
  std::string out;
  auto row = [&](const std::string& k, const std::string& val) { out += fmt::format("{:<12}{}\n", k, val); };
  row("file", v.source);
  row("format", header.format);
  row("dtype", v.stored_dtype == dtype_name(v.data.scalar_type())
                   ? v.stored_dtype
                   : fmt::format("{} (held as {})", v.stored_dtype, dtype_name(v.data.scalar_type())));
  row("shape",
      fmt::format("[C, D, H, W] = [{}, {}, {}, {}]  (x, y, z size {} x {} x {})", v.channels(), d, h, w, w, h, d));
  row("channels", std::to_string(v.channels()));
  row("spacing", fmt::format("{:.6g} x {:.6g} x {:.6g}  (x, y, z)", g.spacing[0], g.spacing[1], g.spacing[2]));
  row("origin", fmt::format("({:.6g}, {:.6g}, {:.6g})", g.origin[0], g.origin[1], g.origin[2]));
  // "+ 0.0" turns -0 into 0 so flipped axes print cleanly.
  for (int r = 0; r < 3; ++r)
    row(r == 0 ? "direction" : "",
        fmt::format("[{:9.6f} {:9.6f} {:9.6f}]", g.dir(r, 0) + 0.0, g.dir(r, 1) + 0.0, g.dir(r, 2) + 0.0));
  row("orientation", orientation_codes(g) + "  (direction index axes i, j, k point to; LPS physical frame)");
  if (v.data.numel() > 0 && !v.data.is_floating_point()) {
    // Integers exactly (label ids can exceed double's 53-bit mantissa).
    const auto mean = v.data.to(torch::kDouble).mean().item<double>();
    row("range",
        fmt::format("[{}, {}]  mean {:.6g}", v.data.min().item<int64_t>(), v.data.max().item<int64_t>(), mean));
  } else if (v.data.numel() > 0) {
    auto f = v.data.to(torch::kDouble);
    const auto finite = torch::isfinite(f);
    const int64_t bad = f.numel() - finite.sum().item<int64_t>();
    auto vals = bad > 0 ? f.masked_select(finite) : f.flatten();
    if (vals.numel() > 0) {
      row("range", fmt::format("[{:.6g}, {:.6g}]  mean {:.6g}", vals.min().item<double>(), vals.max().item<double>(),
                               vals.mean().item<double>()));
    }
    if (bad > 0) row("non-finite", fmt::format("{} voxels are NaN/Inf", bad));
  }
  if (header.files.size() > 1)
    row("slices",
        fmt::format("{} files, first {}, last {}", header.files.size(), header.files.front(), header.files.back()));
  return out;
}

}  // namespace gtgm::io
