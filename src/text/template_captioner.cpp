// The label-free template captioner: sentences from voxel statistics, spacing and position.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gtgm/core/error.h"
#include "gtgm/text/captioner.h"

namespace gtgm::text {
namespace {

/// Fraction of `values` in [lo, hi).
double fraction(const torch::Tensor& values, double lo, double hi) {
  return values.ge(lo).logical_and(values.lt(hi)).to(torch::kFloat).mean().item<double>();
}

int pct(double f) { return static_cast<int>(std::lround(100.0 * f)); }

/// "superior", "middle", "inferior" style thirds of a normalised coordinate; `sign` orients it.
const char* third(double frac, double sign, const char* low, const char* mid, const char* high) {
  const double f = sign >= 0 ? frac : 1.0 - frac;
  return f < 1.0 / 3 ? low : f > 2.0 / 3 ? high : mid;
}

std::string num(double v) { return fmt::format("{:.3g}", v); }

std::string ct_content(const torch::Tensor& patch) {
  struct Cls {
    const char* name;
    double f;
  };
  std::vector<Cls> cls = {{"air or lung", fraction(patch, -1e30, -400)},
                          {"fat", fraction(patch, -400, -30)},
                          {"soft tissue or fluid", fraction(patch, -30, 150)},
                          {"dense or contrast-enhanced tissue", fraction(patch, 150, 400)},
                          {"bone or calcification", fraction(patch, 400, 1e30)}};
  std::stable_sort(cls.begin(), cls.end(), [](const Cls& a, const Cls& b) { return a.f > b.f; });
  std::string s = fmt::format("Mostly {} ({}%)", cls[0].name, pct(cls[0].f));
  std::vector<std::string> rest;
  for (size_t i = 1; i < cls.size(); ++i)
    if (cls[i].f >= 0.05) rest.push_back(fmt::format("{} ({}%)", cls[i].name, pct(cls[i].f)));
  if (!rest.empty()) s += ", with " + fmt::format("{}", fmt::join(rest, " and "));
  const double mean = patch.mean().item<double>(), sd = patch.std().item<double>();
  s += fmt::format("; mean attenuation {:.0f} HU (SD {:.0f} HU).", mean, sd);
  const auto soft = patch.masked_select(patch.ge(-30).logical_and(patch.lt(150)));
  if (soft.numel() > 16) {
    const double soft_sd = soft.std().item<double>();
    s += soft_sd < 20   ? " Soft tissue looks homogeneous."
         : soft_sd < 40 ? " Soft tissue is mildly heterogeneous."
                        : " Soft tissue is heterogeneous.";
  }
  return s;
}

std::string mri_content(const torch::Tensor& patch, const VolumeInfo& info) {
  const double range = std::max(info.p99 - info.p01, 1e-6);
  const double mean = patch.mean().item<double>();
  const double rel = (mean - info.p01) / range;
  const double bg = fraction(patch, -1e30, info.p05 + 0.02 * range);
  const double bright = fraction(patch, info.p90, 1e30);
  const auto fg = patch.masked_select(patch.ge(info.p05 + 0.02 * range));
  std::string texture = "no tissue";
  if (fg.numel() > 16) {
    const double cv = fg.std().item<double>() / std::max(std::abs(fg.mean().item<double>()), 1e-6);
    texture = cv < 0.15 ? "homogeneous" : cv < 0.35 ? "mildly heterogeneous" : "heterogeneous";
  }
  std::string s = fmt::format("Signal is {} overall and {}",
                              rel < 1.0 / 3   ? "low"
                              : rel < 2.0 / 3 ? "intermediate"
                                              : "high",
                              texture);
  s += fmt::format("; bright regions cover {}% of the view", pct(bright));
  if (bg >= 0.1) s += fmt::format(" and background without signal {}%", pct(bg));
  return s + ".";
}

std::string em_content(const torch::Tensor& patch, const VolumeInfo& info) {
  const double dark = fraction(patch, -1e30, info.p20);
  // Mean absolute in-plane gradient relative to the intensity range: how busy the membranes are.
  const auto gy = (patch.slice(0, 1) - patch.slice(0, 0, -1)).abs().mean().item<double>();
  const auto gx = (patch.slice(1, 1) - patch.slice(1, 0, -1)).abs().mean().item<double>();
  const double busy = (gx + gy) / 2.0 / std::max(info.p99 - info.p01, 1e-6);
  return fmt::format(
      "Dark membrane-like outlines cover {}% of the view around {} cell profiles; mean grey value {:.0f}.", pct(dark),
      busy > 0.08 ? "many small" : "fewer, larger", patch.mean().item<double>());
}

}  // namespace

VolumeInfo describe_volume(const torch::Tensor& volume, const io::Geometry& geometry,
                           config::CaptionModality modality) {
  GTGM_CHECK(volume.dim() == 3 && volume.numel() > 0, "describe_volume needs a non-empty [D, H, W] tensor, got {}",
             volume.sizes());
  VolumeInfo info;
  info.shape = {volume.size(0), volume.size(1), volume.size(2)};
  info.geometry = geometry;
  const auto flat = volume.reshape({-1});
  const int64_t stride = std::max<int64_t>(1, flat.numel() / 1000000);
  const auto sample = flat.slice(0, 0, flat.numel(), stride).to(torch::kFloat);
  const auto q = torch::quantile(sample, torch::tensor({0.01, 0.05, 0.2, 0.5, 0.9, 0.99}, torch::kFloat));
  info.p01 = q[0].item<double>();
  info.p05 = q[1].item<double>();
  info.p20 = q[2].item<double>();
  info.p50 = q[3].item<double>();
  info.p90 = q[4].item<double>();
  info.p99 = q[5].item<double>();
  switch (modality) {
    case config::CaptionModality::CT:
      info.modality = config::Modality::CT;
      return info;
    case config::CaptionModality::MRI:
      info.modality = config::Modality::MRI;
      return info;
    case config::CaptionModality::EM:
      info.modality = config::Modality::EM;
      return info;
    case config::CaptionModality::Auto:
      break;
  }
  const double mn = sample.min().item<double>(), mx = sample.max().item<double>();
  const auto& sp = geometry.spacing;  // (x, y, z)
  if (mn <= -500 && mx >= 300) {
    info.modality = config::Modality::CT;
  } else if (volume.scalar_type() == torch::kUInt8 && sp[2] >= 4.0 * std::max(sp[0], sp[1])) {
    info.modality = config::Modality::EM;
  } else {
    info.modality = config::Modality::MRI;
  }
  return info;
}

std::string TemplateCaptioner::caption(const SliceView& v) {
  GTGM_CHECK(v.volume != nullptr && v.info != nullptr, "template captioner: view of '{}' has no volume", v.volume_id);
  const auto& info = *v.info;
  const auto& sp = info.geometry.spacing;     // (x, y, z)
  const auto& dir = info.geometry.direction;  // row-major; column a = index axis a (i, j, k)
  const int64_t d = info.shape[0], h = info.shape[1], w = info.shape[2];
  const int64_t z = v.position[0];
  const bool variant = hash64(CaptionWriter::key(v.volume_id, v.position)) % 2 == 1;
  // Where the view is: its centre as a fraction of the slice, and whether it is the whole slice.
  const double fy = (v.patch[0] + v.patch[1]) / 2.0 / static_cast<double>(h);
  const double fx = (v.patch[2] + v.patch[3]) / 2.0 / static_cast<double>(w);
  const bool whole = v.patch[1] - v.patch[0] >= 0.9 * h && v.patch[3] - v.patch[2] >= 0.9 * w;
  std::string out;

  if (info.modality == config::Modality::EM) {
    out = fmt::format("{} {} of {} ({} x {} nm pixels, {} nm sections).",
                      variant ? "Electron microscopy section" : "Serial-section electron micrograph, section", z + 1, d,
                      num(sp[0]), num(sp[1]), num(sp[2]));
    const double pw = (v.patch[3] - v.patch[2]) * sp[0] / 1000.0, ph = (v.patch[1] - v.patch[0]) * sp[1] / 1000.0;
    const bool edge = fx < 0.2 || fx > 0.8 || fy < 0.2 || fy > 0.8;
    out += whole ? fmt::format(" The view shows the whole section ({} x {} um).", num(pw), num(ph))
                 : fmt::format(" The view covers {} x {} um near the {} of the section.", num(pw), num(ph),
                               edge ? "edge" : "centre");
  } else {
    const std::string opening = variant ? fmt::format("{} image, axial slice", config::to_string(info.modality))
                                        : fmt::format("Axial {} slice", config::to_string(info.modality));
    // Superior-inferior from the z component of the slice axis (LPS: +z is superior).
    const double kz = dir[8];
    const double fz = (z + 0.5) / static_cast<double>(d);
    const std::string where =
        std::abs(kz) >= 0.5 ? fmt::format("the {} part of the scan", third(fz, kz, "inferior", "middle", "superior"))
                            : fmt::format("{}% along the slice stack", pct(fz));
    out = fmt::format("{} {} of {} from {} ({:.0f} x {:.0f} x {:.0f} mm; {} x {} mm pixels, {} mm slices).", opening,
                      z + 1, d, where, w * sp[0], h * sp[1], d * sp[2], num(sp[0]), num(sp[1]), num(sp[2]));
    // In-plane location of the view's centre: LPS +x is the patient's left, +y posterior.
    const double pw = (v.patch[3] - v.patch[2]) * sp[0], ph = (v.patch[1] - v.patch[0]) * sp[1];
    out += whole ? std::string(" The view shows the whole slice.")
                 : fmt::format(" The view ({:.0f} x {:.0f} mm) lies {} and {}.", pw, ph,
                               third(fx, dir[0], "right of the midline", "at the midline", "left of the midline"),
                               third(fy, dir[4], "anteriorly", "centrally", "posteriorly"));
  }
  const auto patch =
      v.volume->select(0, z).slice(0, v.patch[0], v.patch[1]).slice(1, v.patch[2], v.patch[3]).to(torch::kFloat);
  out += " ";
  switch (info.modality) {
    case config::Modality::CT:
      out += ct_content(patch);
      break;
    case config::Modality::EM:
      out += em_content(patch, info);
      break;
    case config::Modality::MRI:
    case config::Modality::Auto:  // describe_volume decides the modality; never auto here
      out += mri_content(patch, info);
      break;
  }
  return out;
}

}  // namespace gtgm::text
