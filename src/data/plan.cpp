#include "gtgm/data/plan.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "gtgm/core/error.h"
#include "gtgm/core/seed.h"
#include "gtgm/data/spatial.h"

namespace gtgm::data {

using nlohmann::json;

namespace {

/// numpy.percentile (linear) of a sorted vector.
double percentile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return 0.0;
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return percentile_sorted(v, 50.0);
}

template <class T, size_t N>
std::array<T, N> array_from(const json& j, const std::string& key, const std::string& where) {
  GTGM_CHECK(j.contains(key) && j[key].is_array() && j[key].size() == N, "{}: '{}' must be a list of {} numbers", where,
             key, N);
  std::array<T, N> a{};
  for (size_t i = 0; i < N; ++i) a[i] = j[key][i].get<T>();
  return a;
}

template <class T>
T get_or(const json& j, const std::string& key, const std::string& where) {
  GTGM_CHECK(j.contains(key), "{}: missing key '{}'", where, key);
  try {
    return j[key].get<T>();
  } catch (const json::exception& e) {
    GTGM_THROW("{}: key '{}' has the wrong type ({})", where, key, e.what());
  }
}

// A plan.json value spelled as in the config (EnumNames); ConfigError naming the key otherwise.
template <class E>
E plan_enum(const json& j, const std::string& key, const std::string& where) {
  const auto text = get_or<std::string>(j, key, where);
  const auto value = config::parse_enum<E>(text);
  GTGM_CHECK(value.has_value(), "{}: key '{}' is '{}' (expected one of {}); re-run `gtgm plan`", where, key, text,
             fmt::join(config::enum_spellings<E>(), ", "));
  return *value;
}

}  // namespace

// ---- fingerprint ---------------------------------------------------------------------------------

CaseFingerprint fingerprint_case(const std::string& id, const io::Volume& image, const io::Volume* label,
                                 const config::PreprocessConfig& cfg, uint64_t seed, int64_t max_samples) {
  GTGM_CHECK(image.data.dim() == 4, "case {}: image must be [C, D, H, W], got {}", id, image.data.sizes());
  const auto r = canonical_reorientation(image.geometry, cfg.orientation);
  auto img = reorient(image, r);
  io::Volume lab;
  if (label != nullptr) {
    GTGM_CHECK(label->shape() == image.shape(), "case {}: label shape {} differs from image shape {}", id,
               label->data.sizes(), image.data.sizes());
    lab = reorient(*label, r);
  }
  CaseFingerprint f;
  f.id = id;
  f.channels = img.channels();
  f.spacing = img.geometry.spacing_dhw();
  f.shape = img.shape();
  if (cfg.crop_nonzero) {
    auto box = nonzero_box(img.data);
    if (label != nullptr) {
      const auto lb = nonzero_box(lab.data);
      if ((lab.data != 0).any().item<bool>()) {
        for (int a = 0; a < 3; ++a) {
          box.begin[a] = std::min(box.begin[a], lb.begin[a]);
          box.end[a] = std::max(box.end[a], lb.end[a]);
        }
      }
    }
    img = crop(img, box);
    if (label != nullptr) lab = crop(lab, box);
  }
  f.cropped_shape = img.shape();

  torch::Tensor fg;  // [D, H, W] bool
  if (label != nullptr) {
    const auto flat = lab.data.to(torch::kLong).flatten();
    auto [values, inverse, counts] = torch::_unique2(flat, /*sorted=*/true, /*return_inverse=*/false,
                                                     /*return_counts=*/true);
    for (int64_t i = 0; i < values.numel(); ++i) f.label_voxels[values[i].item<int64_t>()] = counts[i].item<int64_t>();
    fg = lab.data[0] > 0;
  }
  if (!fg.defined() || !fg.any().item<bool>())
    fg = torch::ones({img.data.size(1), img.data.size(2), img.data.size(3)}, torch::kBool);
  const auto idx = fg.flatten().nonzero().flatten();  // foreground voxel indices
  auto engine = core::make_engine(seed, {0x66696e67ULL});
  torch::Tensor pick = idx;
  if (idx.numel() > max_samples) {
    std::uniform_int_distribution<int64_t> u(0, idx.numel() - 1);
    std::vector<int64_t> sel(static_cast<size_t>(max_samples));
    for (auto& s : sel) s = u(engine);
    pick = idx.index_select(0, torch::tensor(sel, torch::kLong));
  }
  const auto x = img.data.to(torch::kFloat).reshape({img.channels(), -1});
  for (int64_t c = 0; c < img.channels(); ++c) {
    const auto v = x[c].index_select(0, pick).contiguous();
    f.fg_samples.emplace_back(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
  }
  return f;
}

Fingerprint summarize_fingerprint(std::vector<CaseFingerprint> cases, const config::PreprocessConfig& cfg) {
  GTGM_CHECK(!cases.empty(), "planning needs at least one case");
  Fingerprint fp;
  const int64_t channels = cases.front().channels;
  for (const auto& c : cases) {
    GTGM_CHECK(c.channels == channels, "case {} has {} channels but case {} has {}; all cases need the same channels",
               c.id, c.channels, cases.front().id, channels);
  }
  for (int64_t ch = 0; ch < channels; ++ch) {
    std::vector<double> all;
    for (const auto& c : cases) {
      if (ch < static_cast<int64_t>(c.fg_samples.size()))
        all.insert(all.end(), c.fg_samples[ch].begin(), c.fg_samples[ch].end());
    }
    IntensityStats s;
    if (!all.empty()) {
      std::sort(all.begin(), all.end());
      double sum = 0, sq = 0;
      for (double v : all) sum += v;
      s.mean = sum / static_cast<double>(all.size());
      for (double v : all) sq += (v - s.mean) * (v - s.mean);
      s.std = std::sqrt(sq / static_cast<double>(all.size()));
      s.min = all.front();
      s.max = all.back();
      s.median = percentile_sorted(all, 50);
      s.p00_5 = percentile_sorted(all, 0.5);
      s.p99_5 = percentile_sorted(all, 99.5);
      s.lo = percentile_sorted(all, cfg.ct_percentiles[0]);
      s.hi = percentile_sorted(all, cfg.ct_percentiles[1]);
      if (cfg.ct_clip == config::CtClip::Window) {
        // z-score statistics of the windowed intensities
        double wsum = 0, wsq = 0;
        for (double& v : all) v = std::clamp(v, cfg.ct_window[0], cfg.ct_window[1]);
        for (double v : all) wsum += v;
        const double m = wsum / static_cast<double>(all.size());
        for (double v : all) wsq += (v - m) * (v - m);
        s.lo = cfg.ct_window[0];
        s.hi = cfg.ct_window[1];
        s.mean = m;
        s.std = std::sqrt(wsq / static_cast<double>(all.size()));
      }
    }
    fp.intensity.push_back(s);
  }
  std::map<int64_t, int64_t> total;
  for (const auto& c : cases) {
    for (const auto& [k, n] : c.label_voxels) total[k] += n;
  }
  fp.instance_labels = static_cast<int64_t>(total.size()) > Fingerprint::kMaxListedLabels;
  if (!fp.instance_labels) {
    double sum = 0;
    for (const auto& [k, n] : total) sum += static_cast<double>(n);
    for (const auto& [k, n] : total) fp.class_frequency[k] = static_cast<double>(n) / sum;
  }
  fp.cases = std::move(cases);
  return fp;
}

std::string Fingerprint::to_json() const {
  json j;
  j["format"] = "gtgm-fingerprint";
  j["version"] = 1;
  j["instance_labels"] = instance_labels;
  json cls = json::object();
  for (const auto& [k, v] : class_frequency) cls[std::to_string(k)] = v;
  j["class_frequency"] = cls;
  json inten = json::array();
  for (const auto& s : intensity) {
    inten.push_back({{"mean", s.mean},
                     {"std", s.std},
                     {"min", s.min},
                     {"max", s.max},
                     {"median", s.median},
                     {"percentile_00_5", s.p00_5},
                     {"percentile_99_5", s.p99_5},
                     {"clip_lo", s.lo},
                     {"clip_hi", s.hi}});
  }
  j["foreground_intensity"] = inten;
  json cs = json::array();
  for (const auto& c : cases) {
    json labels = json::object();
    if (!instance_labels) {
      for (const auto& [k, n] : c.label_voxels) labels[std::to_string(k)] = n;
    }
    cs.push_back({{"id", c.id},
                  {"spacing", c.spacing},
                  {"shape", c.shape},
                  {"cropped_shape", c.cropped_shape},
                  {"channels", c.channels},
                  {"label_voxels", labels}});
  }
  j["cases"] = cs;
  return j.dump(1);
}

Fingerprint Fingerprint::from_json(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    GTGM_THROW("{}: not valid JSON ({})", where, e.what());
  }
  GTGM_CHECK(j.value("format", "") == "gtgm-fingerprint", "{}: not a gtgm fingerprint (format key)", where);
  Fingerprint fp;
  fp.instance_labels = get_or<bool>(j, "instance_labels", where);
  for (const auto& [k, v] : j.at("class_frequency").items()) fp.class_frequency[std::stoll(k)] = v.get<double>();
  for (const auto& s : j.at("foreground_intensity")) {
    IntensityStats st;
    st.mean = get_or<double>(s, "mean", where);
    st.std = get_or<double>(s, "std", where);
    st.min = get_or<double>(s, "min", where);
    st.max = get_or<double>(s, "max", where);
    st.median = get_or<double>(s, "median", where);
    st.p00_5 = get_or<double>(s, "percentile_00_5", where);
    st.p99_5 = get_or<double>(s, "percentile_99_5", where);
    st.lo = get_or<double>(s, "clip_lo", where);
    st.hi = get_or<double>(s, "clip_hi", where);
    fp.intensity.push_back(st);
  }
  for (const auto& c : j.at("cases")) {
    CaseFingerprint f;
    f.id = get_or<std::string>(c, "id", where);
    f.spacing = array_from<double, 3>(c, "spacing", where);
    f.shape = array_from<int64_t, 3>(c, "shape", where);
    f.cropped_shape = array_from<int64_t, 3>(c, "cropped_shape", where);
    f.channels = get_or<int64_t>(c, "channels", where);
    for (const auto& [k, v] : c.at("label_voxels").items()) f.label_voxels[std::stoll(k)] = v.get<int64_t>();
    fp.cases.push_back(std::move(f));
  }
  return fp;
}

// ---- target spacing and patch size ------------------------------------------------------------------

std::array<double, 3> plan_target_spacing(const std::vector<std::array<double, 3>>& spacings,
                                          const std::vector<std::array<int64_t, 3>>& shapes,
                                          double anisotropy_threshold) {
  GTGM_CHECK(!spacings.empty() && spacings.size() == shapes.size(),
             "plan_target_spacing: need one spacing and shape per case ({} spacings, {} shapes)", spacings.size(),
             shapes.size());
  std::array<double, 3> target{}, size{};
  for (int a = 0; a < 3; ++a) {
    std::vector<double> sp, sh;
    for (size_t i = 0; i < spacings.size(); ++i) {
      sp.push_back(spacings[i][a]);
      sh.push_back(static_cast<double>(shapes[i][a]));
    }
    target[a] = median(sp);
    size[a] = median(sh);
  }
  const int worst = static_cast<int>(std::max_element(target.begin(), target.end()) - target.begin());
  double min_other_spacing = std::numeric_limits<double>::infinity(), max_other_spacing = 0;
  double min_other_size = std::numeric_limits<double>::infinity();
  for (int a = 0; a < 3; ++a) {
    if (a == worst) continue;
    min_other_spacing = std::min(min_other_spacing, target[a]);
    max_other_spacing = std::max(max_other_spacing, target[a]);
    min_other_size = std::min(min_other_size, size[a]);
  }
  const bool aniso_spacing = target[worst] > anisotropy_threshold * min_other_spacing;
  const bool aniso_voxels = size[worst] * anisotropy_threshold < min_other_size;
  if (aniso_spacing && aniso_voxels) {
    std::vector<double> sp;
    for (const auto& s : spacings) sp.push_back(s[worst]);
    std::sort(sp.begin(), sp.end());
    double t = percentile_sorted(sp, 10);
    if (t < max_other_spacing) t = std::max(max_other_spacing, t) + 1e-5;
    target[worst] = t;
  }
  return target;
}

std::array<int64_t, 3> suggest_patch_size(const std::array<double, 3>& spacing,
                                          const std::array<int64_t, 3>& median_shape, int64_t voxel_budget) {
  std::array<double, 3> p{};
  std::array<bool, 3> clipped{false, false, false};
  for (int a = 0; a < 3; ++a) p[a] = 1.0 / spacing[a];
  // Grow the free axes to the budget, clip to the median shape, and repeat with the rest.
  for (int iter = 0; iter < 4; ++iter) {
    double prod = 1;
    int free_axes = 0;
    for (int a = 0; a < 3; ++a) {
      prod *= p[a];
      if (!clipped[a]) ++free_axes;
    }
    if (free_axes == 0) break;
    const double f = std::pow(static_cast<double>(voxel_budget) / prod, 1.0 / free_axes);
    for (int a = 0; a < 3; ++a) {
      if (clipped[a]) continue;
      p[a] *= f;
      if (p[a] >= static_cast<double>(median_shape[a])) {
        p[a] = static_cast<double>(median_shape[a]);
        clipped[a] = true;
      }
    }
  }
  // Round down to whole units, then grow the side with the smallest physical extent by one unit
  // while the budget and the (rounded-up) median shape allow.
  const auto unit_of = [](double v) { return v >= 16 ? int64_t{16} : int64_t{4}; };
  std::array<int64_t, 3> out{}, cap{};
  for (int a = 0; a < 3; ++a) {
    const int64_t u = unit_of(p[a]);
    out[a] = std::max<int64_t>(u, static_cast<int64_t>(std::floor(p[a] / static_cast<double>(u))) * u);
    const int64_t um = unit_of(static_cast<double>(median_shape[a]));
    cap[a] = std::max(out[a], (median_shape[a] + um - 1) / um * um);
  }
  for (;;) {
    std::array<int, 3> order{0, 1, 2};
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return static_cast<double>(out[a]) * spacing[a] < static_cast<double>(out[b]) * spacing[b];
    });
    bool grew = false;
    for (int a : order) {
      auto next = out;
      next[a] += unit_of(static_cast<double>(out[a]));
      if (next[a] <= cap[a] && next[0] * next[1] * next[2] <= voxel_budget) {
        out = next;
        grew = true;
        break;
      }
    }
    if (!grew) break;
  }
  return out;
}

// ---- plan -------------------------------------------------------------------------------------------

Plan make_plan(const Fingerprint& fp, const config::DataConfig& cfg) {
  const auto& pc = cfg.preprocess;
  GTGM_CHECK(!fp.cases.empty(), "make_plan: the fingerprint has no cases");
  Plan p;
  p.modality = cfg.modality;
  p.orientation = pc.orientation;
  p.crop_nonzero = pc.crop_nonzero;
  p.label_interp = pc.label_interp;
  p.image_dtype = pc.image_dtype;
  p.compression = pc.compression;
  p.fg_locations = pc.fg_locations;
  p.instance_labels = fp.instance_labels;
  for (const auto& [k, v] : fp.class_frequency) p.labels.push_back(k);
  if (!pc.target_spacing.empty()) {
    if (pc.target_spacing.size() != 3) {
      throw ConfigError(
          fmt::format("data.preprocess.target_spacing: expected 3 values [D, H, W] or an empty list, got {}",
                      pc.target_spacing.size()));
    }
    for (int a = 0; a < 3; ++a) p.target_spacing[a] = pc.target_spacing[a];
  } else {
    std::vector<std::array<double, 3>> sp;
    std::vector<std::array<int64_t, 3>> sh;
    for (const auto& c : fp.cases) {
      sp.push_back(c.spacing);
      sh.push_back(c.cropped_shape);
    }
    p.target_spacing = plan_target_spacing(sp, sh, pc.anisotropy_threshold);
  }
  for (int a = 0; a < 3; ++a) {
    std::vector<double> sizes;
    for (const auto& c : fp.cases)
      sizes.push_back(static_cast<double>(c.cropped_shape[a]) * c.spacing[a] / p.target_spacing[a]);
    p.median_shape[a] = std::max<int64_t>(1, std::llround(median(sizes)));
  }
  p.patch_size = suggest_patch_size(p.target_spacing, p.median_shape, pc.patch_voxels);
  if (pc.normalization == config::Normalization::Range) {
    if (pc.intensity_range.size() != 2 || !(pc.intensity_range[0] < pc.intensity_range[1])) {
      throw ConfigError(fmt::format("data.preprocess.intensity_range [{}]: expected [a_min, a_max] with a_min < a_max",
                                    fmt::join(pc.intensity_range, ", ")));
    }
  }
  for (const auto& s : fp.intensity) {
    NormalizationParams n;
    if (pc.normalization == config::Normalization::Range) {
      // The reference (finetune/task1.py:99-106) maps every MSD task, CT or MRI, this way.
      n.scheme = NormScheme::Range;
      n.clip = true;
      n.clip_lo = pc.intensity_range[0];
      n.clip_hi = pc.intensity_range[1];
    } else if (cfg.modality == config::Modality::CT) {
      n.scheme = NormScheme::CT;
      n.clip = pc.ct_clip != config::CtClip::None;
      n.clip_lo = s.lo;
      n.clip_hi = s.hi;
      n.mean = s.mean;
      n.std = std::max(s.std, 1e-8);
    } else {
      n.scheme = NormScheme::ZScore;
    }
    p.normalization.push_back(n);
  }
  return p;
}

std::string Plan::to_json() const {
  json j;
  j["format"] = "gtgm-plan";
  j["version"] = 1;
  j["modality"] = config::to_string(modality);
  j["orientation"] = config::to_string(orientation);
  j["target_spacing"] = target_spacing;
  j["median_shape"] = median_shape;
  j["patch_size"] = patch_size;
  json norm = json::array();
  for (const auto& n : normalization) {
    norm.push_back({{"scheme", config::to_string(n.scheme)},
                    {"clip", n.clip},
                    {"clip_lo", n.clip_lo},
                    {"clip_hi", n.clip_hi},
                    {"mean", n.mean},
                    {"std", n.std}});
  }
  j["normalization"] = norm;
  j["crop_nonzero"] = crop_nonzero;
  j["label_interp"] = config::to_string(label_interp);
  j["image_dtype"] = config::to_string(image_dtype);
  j["compression"] = config::to_string(compression);
  j["fg_locations"] = fg_locations;
  j["labels"] = labels;
  j["instance_labels"] = instance_labels;
  return j.dump(1);
}

Plan Plan::from_json(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    GTGM_THROW("{}: not valid JSON ({})", where, e.what());
  }
  GTGM_CHECK(j.value("format", "") == "gtgm-plan", "{}: not a gtgm plan (format key); re-run `gtgm plan`", where);
  GTGM_CHECK(j.value("version", 0) == 1, "{}: plan version {} is not supported (expected 1); re-run `gtgm plan`", where,
             j.value("version", 0));
  Plan p;
  p.modality = plan_enum<config::Modality>(j, "modality", where);
  p.orientation = plan_enum<config::Orientation>(j, "orientation", where);
  p.target_spacing = array_from<double, 3>(j, "target_spacing", where);
  p.median_shape = array_from<int64_t, 3>(j, "median_shape", where);
  p.patch_size = array_from<int64_t, 3>(j, "patch_size", where);
  for (const auto& n : j.at("normalization")) {
    NormalizationParams q;
    q.scheme = plan_enum<NormScheme>(n, "scheme", where);
    q.clip = get_or<bool>(n, "clip", where);
    q.clip_lo = get_or<double>(n, "clip_lo", where);
    q.clip_hi = get_or<double>(n, "clip_hi", where);
    q.mean = get_or<double>(n, "mean", where);
    q.std = get_or<double>(n, "std", where);
    p.normalization.push_back(q);
  }
  p.crop_nonzero = get_or<bool>(j, "crop_nonzero", where);
  p.label_interp = plan_enum<config::LabelInterp>(j, "label_interp", where);
  p.image_dtype = plan_enum<config::ImageDtype>(j, "image_dtype", where);
  p.compression = plan_enum<config::Compression>(j, "compression", where);
  p.fg_locations = get_or<int64_t>(j, "fg_locations", where);
  p.labels = get_or<std::vector<int64_t>>(j, "labels", where);
  p.instance_labels = get_or<bool>(j, "instance_labels", where);
  return p;
}

void Plan::check_matches(const config::DataConfig& cfg, const std::string& where) const {
  const auto& pc = cfg.preprocess;
  const auto mismatch = [&](const std::string& key, const std::string& plan_value, const std::string& cfg_value) {
    throw ConfigError(
        fmt::format("{} was made with {}={} but the config says {}; re-run `gtgm plan` (or set the key "
                    "back)",
                    where, key, plan_value, cfg_value));
  };
  if (modality != cfg.modality) {
    mismatch("data.modality", config::to_string(modality), config::to_string(cfg.modality));
  }
  if (orientation != pc.orientation) {
    mismatch("data.preprocess.orientation", config::to_string(orientation), config::to_string(pc.orientation));
  }
  if (crop_nonzero != pc.crop_nonzero) {
    mismatch("data.preprocess.crop_nonzero", crop_nonzero ? "true" : "false", pc.crop_nonzero ? "true" : "false");
  }
  if (!pc.target_spacing.empty()) {
    for (size_t a = 0; a < pc.target_spacing.size() && a < 3; ++a) {
      if (std::abs(pc.target_spacing[a] - target_spacing[a]) > 1e-6 * target_spacing[a]) {
        mismatch("data.preprocess.target_spacing", fmt::format("[{}]", fmt::join(target_spacing, ", ")),
                 fmt::format("[{}]", fmt::join(pc.target_spacing, ", ")));
      }
    }
  }
  const bool plan_range = !normalization.empty() && normalization[0].scheme == NormScheme::Range;
  if (plan_range != (pc.normalization == config::Normalization::Range)) {
    mismatch("data.preprocess.normalization", plan_range ? "range" : "modality", config::to_string(pc.normalization));
  }
  if (plan_range && (normalization[0].clip_lo != pc.intensity_range[0] || normalization[0].clip_hi != pc.intensity_range[1])) {
    mismatch("data.preprocess.intensity_range",
             fmt::format("[{}, {}]", normalization[0].clip_lo, normalization[0].clip_hi),
             fmt::format("[{}]", fmt::join(pc.intensity_range, ", ")));
  }
  if (modality == config::Modality::CT && !normalization.empty() && !plan_range) {
    const bool want_clip = pc.ct_clip != config::CtClip::None;
    if (normalization[0].clip != want_clip) {
      mismatch("data.preprocess.ct_clip", normalization[0].clip ? "percentile/window" : "none",
               config::to_string(pc.ct_clip));
    }
    if (pc.ct_clip == config::CtClip::Window &&
        (normalization[0].clip_lo != pc.ct_window[0] || normalization[0].clip_hi != pc.ct_window[1])) {
      mismatch("data.preprocess.ct_window", fmt::format("[{}, {}]", normalization[0].clip_lo, normalization[0].clip_hi),
               fmt::format("[{}, {}]", pc.ct_window[0], pc.ct_window[1]));
    }
  }
}

torch::Tensor normalize_image(const torch::Tensor& image, const std::vector<NormalizationParams>& params) {
  GTGM_CHECK(image.dim() == 4, "normalize_image: expected [C, D, H, W], got {}", image.sizes());
  GTGM_CHECK(static_cast<int64_t>(params.size()) == image.size(0),
             "normalize_image: the plan has normalisation for {} channels but the image has {}", params.size(),
             image.size(0));
  auto out = image.to(torch::kFloat).clone();
  for (int64_t c = 0; c < image.size(0); ++c) {
    auto x = out[c];
    const auto& p = params[static_cast<size_t>(c)];
    if (p.clip) x.clamp_(p.clip_lo, p.clip_hi);
    switch (p.scheme) {
      case NormScheme::CT:
        x.sub_(p.mean).div_(std::max(p.std, 1e-8));
        break;
      case NormScheme::ZScore: {
        const double m = x.mean().item<double>();
        const double s = x.std(/*unbiased=*/false).item<double>();
        x.sub_(m).div_(std::max(s, 1e-8));
        break;
      }
      case NormScheme::Range:
        // clamp first (p.clip) then scale: the same float32 values as MONAI's scale-then-clip.
        x.sub_(p.clip_lo).div_(p.clip_hi - p.clip_lo);
        break;
      case NormScheme::None:
        break;
    }
  }
  return out;
}

}  // namespace gtgm::data
