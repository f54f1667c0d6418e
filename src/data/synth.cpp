#include "gtgm/data/synth.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/seed.h"
#include "gtgm/core/strings.h"
#include "gtgm/data/rng.h"
#include "gtgm/io/volume_io.h"

namespace gtgm::data {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;
using torch::Tensor;

namespace {

constexpr const char* kSynthMarker = "written by gtgm synth";

// White Gaussian noise from our own stream (Box-Muller), so voxels do not depend on torch's RNG.
Tensor white_noise(Rng& rng, at::IntArrayRef shape) {
  auto t = torch::empty(shape, torch::kFloat);
  float* p = t.data_ptr<float>();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; i += 2) {
    const double u1 = std::max(rng.uniform(), 1e-300);
    const double u2 = rng.uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    p[i] = static_cast<float>(r * std::cos(2 * M_PI * u2));
    if (i + 1 < n) p[i + 1] = static_cast<float>(r * std::sin(2 * M_PI * u2));
  }
  return t;
}

// Separable Gaussian blur of a [D, H, W] float tensor; sigma per axis in voxels (0 = none).
Tensor blur(const Tensor& v, const std::array<double, 3>& sigma) {
  auto x = v.unsqueeze(0).unsqueeze(0);
  for (int a = 0; a < 3; ++a) {
    const double s = sigma[static_cast<size_t>(a)];
    if (s <= 0) continue;
    const int64_t r = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * s)));
    auto k = torch::arange(-r, r + 1, torch::kFloat);
    k = torch::exp(-k * k / (2 * s * s));
    k = k / k.sum();
    std::vector<int64_t> kshape{1, 1, 1, 1, 1};
    kshape[static_cast<size_t>(2 + a)] = 2 * r + 1;
    std::vector<int64_t> pad(6, 0);  // (W, W, H, H, D, D)
    pad[static_cast<size_t>(2 * (2 - a))] = r;
    pad[static_cast<size_t>(2 * (2 - a) + 1)] = r;
    x = F::pad(x, F::PadFuncOptions(pad).mode(torch::kReplicate));
    x = torch::conv3d(x, k.view(kshape));
  }
  return x.squeeze(0).squeeze(0);
}

// Zero-mean, unit-std smooth noise field of `shape` (correlation length ~ sigma voxels).
Tensor smooth_noise(Rng& rng, at::IntArrayRef shape, const std::array<double, 3>& sigma) {
  auto t = blur(white_noise(rng, shape), sigma);
  return (t - t.mean()) / (t.std() + 1e-6);
}

// Normalised distance to an axis-aligned ellipsoid's centre (1 on its surface).
Tensor ellipsoid(const Tensor& z, const Tensor& y, const Tensor& x, const std::array<double, 3>& c_zyx,
                 const std::array<double, 3>& r_zyx) {
  return torch::sqrt(torch::pow((z - c_zyx[0]) / r_zyx[0], 2) + torch::pow((y - c_zyx[1]) / r_zyx[1], 2) +
                     torch::pow((x - c_zyx[2]) / r_zyx[2], 2));
}

std::string ct_or_mri(const std::string& m) {
  GTGM_CHECK(m == "CT" || m == "MRI", "phantom modality '{}' (expected CT or MRI)", m);
  return m;
}

// The list of files a synth folder holds, written last into the folder: a re-run replaces the
// folder only when every file in it is on that list, so files a user put there are never deleted.
constexpr const char* kSynthFileList = ".gtgm_synth_files";

// Files of `dir` (relative paths) that synth did not write. Folders written before the list
// existed: the MSD/CREMI names synth uses count as its own.
std::vector<std::string> foreign_files(const fs::path& dir) {
  std::set<std::string> listed;
  const bool has_list = fs::exists(dir / kSynthFileList);
  if (has_list) {
    std::istringstream in(core::read_text_file(dir / kSynthFileList));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) listed.insert(line);
  }
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_directory()) continue;
    const std::string rel = fs::relative(e.path(), dir).generic_string();
    if (rel == kSynthFileList) continue;
    bool ours = false;
    if (has_list) {
      ours = listed.count(rel) > 0;
    } else {
      const std::string top = rel.substr(0, rel.find('/'));
      ours = rel == "dataset.json" || rel == "README.txt" || top == "imagesTr" || top == "labelsTr" ||
             top == "imagesTs" || (core::starts_with(rel, "sample_") && core::ends_with(rel, ".hdf"));
    }
    if (!ours) out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Writes a synth folder atomically through `writer(temp_dir)`. An existing `dir` is replaced only
// when gtgm synth wrote it (the marker in `marker_file`) and it holds no file synth did not write.
void write_synth_dir(const fs::path& dir, const fs::path& marker_file,
                     const std::function<void(const fs::path&)>& writer) {
  if (fs::exists(dir)) {
    bool ours = false;
    if (fs::exists(marker_file)) ours = core::read_text_file(marker_file).find(kSynthMarker) != std::string::npos;
    GTGM_CHECK(ours,
               "{} exists and was not written by gtgm synth (no '{}' in {}); refusing to replace it: choose "
               "another --out",
               dir.string(), kSynthMarker, marker_file.string());
    const auto foreign = foreign_files(dir);
    const size_t shown = std::min<size_t>(3, foreign.size());
    GTGM_CHECK(foreign.empty(),
               "{} was written by gtgm synth but now also holds {} file(s) it did not write ({}{}); refusing to "
               "replace it, which would delete them: move them away or choose another --out",
               dir.string(), foreign.size(), fmt::join(foreign.begin(), foreign.begin() + shown, ", "),
               foreign.size() > shown ? ", ..." : "");
  }
  core::atomic_write_dir(dir, [&](const fs::path& tmp) {
    writer(tmp);
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(tmp))
      if (!e.is_directory()) files.push_back(fs::relative(e.path(), tmp).generic_string());
    std::sort(files.begin(), files.end());
    std::string list;
    for (const auto& f : files) list += f + "\n";
    core::atomic_write_text(tmp / kSynthFileList, list);
  });
}

}  // namespace

const std::map<int64_t, std::string>& phantom_labels() {
  static const std::map<int64_t, std::string> labels = {
      {0, "background"}, {1, "liver"}, {2, "kidney"}, {3, "spleen"}, {4, "lesion"}};
  return labels;
}

PhantomCase make_phantom(const PhantomOptions& o, int64_t index) {
  const bool ct = ct_or_mri(o.modality) == "CT";
  const auto [D, H, W] = o.shape;
  GTGM_CHECK(D >= 4 && H >= 16 && W >= 16, "phantom shape [{}, {}, {}] (expected D >= 4, H >= 16, W >= 16)", D, H, W);
  Rng rng(o.seed, {static_cast<uint64_t>(index)});
  const std::vector<int64_t> shape{D, H, W};
  const auto z = torch::linspace(-1, 1, D).view({D, 1, 1});
  const auto y = torch::linspace(-1, 1, H).view({1, H, 1});
  const auto x = torch::linspace(-1, 1, W).view({1, 1, W});

  // Geometry first: lesions and gas pockets are made round in millimetres.
  io::Geometry g;
  const double sx = rng.uniform(0.7, 1.0) * 256.0 / static_cast<double>(W);
  const double sz = sx * rng.uniform(2.0, 3.0);
  g.spacing = {sx, sx, sz};
  g.origin = {-(W - 1) * sx / 2 + rng.uniform(-10, 10), -(H - 1) * sx / 2 + rng.uniform(-10, 10), rng.uniform(-200, 0)};
  const double z_per_x = (static_cast<double>(W - 1) * sx) / (static_cast<double>(D - 1) * sz);  // round in mm

  const auto deform1 = smooth_noise(rng, shape, {1.5, 3, 3});
  const auto deform2 = smooth_noise(rng, shape, {1.5, 3, 3});
  const auto tex = smooth_noise(rng, shape, {0.7, 1.5, 1.5});

  // Body outline: an elliptic cylinder with a wobbly boundary, narrowing towards both ends.
  const double ax = rng.uniform(0.78, 0.9), ay = rng.uniform(0.58, 0.7), cy = rng.uniform(-0.03, 0.08);
  const auto theta = torch::atan2(y - cy, x);
  auto wobble = torch::ones_like(theta);
  for (int k = 2; k <= 4; ++k) {
    // One draw per statement: the order of evaluation inside an expression is unspecified.
    const double amp = rng.uniform(0, 0.04);
    const double phase = rng.uniform(0, 2 * M_PI);
    wobble = wobble + amp * torch::cos(k * theta + phase);
  }
  const auto rb = torch::sqrt(torch::pow(x / ax, 2) + torch::pow((y - cy) / ay, 2)) / (wobble * (1 - 0.08 * z * z));
  const auto body = rb < 1;
  const auto fat = body & (rb >= 0.87 + 0.03 * deform2);
  const auto inside = rb < 0.85;
  // Spine: cortical ring and marrow, posterior (+y is posterior in LPS).
  const auto dsp = torch::sqrt(torch::pow(x / 0.11, 2) + torch::pow((y - (cy + 0.72 * ay)) / 0.1, 2)).expand(shape);
  const auto cortex = dsp < 1;
  const auto marrow = dsp < 0.65;

  auto blob = [&](const std::array<double, 3>& c, const std::array<double, 3>& r, const Tensor& deform, double amp) {
    return ellipsoid(z, y, x, c, r) < 1 + amp * deform;
  };
  auto jitter = [&](double lo, double hi) { return rng.uniform(lo, hi); };
  const std::array<double, 3> liver_c{jitter(-0.15, 0.3), cy - 0.08 + jitter(-0.05, 0.05), -0.33 + jitter(-0.05, 0.05)};
  const std::array<double, 3> liver_r{0.6 * jitter(0.85, 1.15), 0.3 * jitter(0.85, 1.15), 0.36 * jitter(0.85, 1.15)};
  const auto liver = blob(liver_c, liver_r, deform1, 0.12) & inside;
  const std::array<double, 3> spleen_c{jitter(-0.1, 0.3), cy + 0.12, 0.48};
  const std::array<double, 3> spleen_r{0.35 * jitter(0.8, 1.2), 0.19 * jitter(0.8, 1.2), 0.14 * jitter(0.8, 1.2)};
  const auto spleen = blob(spleen_c, spleen_r, deform2, 0.1) & inside;
  auto kidney_d = torch::full(shape, 1e3);
  for (int side : {-1, 1}) {
    const std::array<double, 3> c{jitter(-0.45, -0.05), cy + 0.36, side * 0.37};
    const std::array<double, 3> r{0.3 * jitter(0.85, 1.15), 0.13 * jitter(0.85, 1.15), 0.11 * jitter(0.85, 1.15)};
    kidney_d = torch::minimum(kidney_d, ellipsoid(z, y, x, c, r) - 0.08 * deform1);
  }
  const auto kidney = (kidney_d < 1) & inside;
  auto lesion = torch::zeros(shape, torch::kBool);
  const int64_t n_lesions = rng.randint(o.min_lesions, 3);
  for (int64_t i = 0; i < n_lesions; ++i) {
    const double r = rng.uniform(0.05, 0.1) * o.lesion_scale;
    const std::array<double, 3> c{liver_c[0] + jitter(-0.5, 0.5) * liver_r[0],
                                  liver_c[1] + jitter(-0.5, 0.5) * liver_r[1],
                                  liver_c[2] + jitter(-0.5, 0.5) * liver_r[2]};
    lesion = lesion | blob(c, {r * z_per_x, r, r}, deform2, 0.08);
  }
  auto gas = torch::zeros(shape, torch::kBool);
  for (int64_t i = 0, n = rng.randint(2, 5); i < n; ++i) {
    const double r = rng.uniform(0.04, 0.08);
    const std::array<double, 3> c{jitter(-0.8, 0.8), cy + jitter(-0.5, -0.2), jitter(-0.4, 0.4)};
    gas = gas | blob(c, {r * z_per_x, r, r}, deform1, 0.1);
  }

  auto label = torch::zeros(shape, torch::kByte);
  label.masked_fill_(liver, 1);
  label.masked_fill_(spleen, 3);
  label.masked_fill_(kidney, 2);
  label.masked_fill_(lesion & (label == 1), 4);
  gas = gas & inside & (label == 0) & ~cortex;

  // Intensities: (CT HU, MRI T1-like units) per tissue, each with its own texture amplitude.
  struct Tissue {
    double ct, ct_tex, mri, mri_tex;
  };
  auto paint = [&](Tensor& img, const Tensor& mask, const Tissue& t) {
    img = torch::where(mask, (ct ? t.ct : t.mri) + (ct ? t.ct_tex : t.mri_tex) * tex, img);
  };
  auto img = torch::full(shape, ct ? -1000.0 : 0.0);
  paint(img, body, {45, 8, 330, 25});
  paint(img, fat, {-100, 12, 880, 30});
  paint(img, cortex, {750, 60, 70, 10});
  paint(img, marrow, {280, 40, 720, 30});
  paint(img, label == 1, {62, 9, 540, 30});
  paint(img, label == 3, {50, 7, 450, 25});
  paint(img, (label == 2) & (kidney_d >= 0.65), {185, 15, 430, 25});
  paint(img, (label == 2) & (kidney_d < 0.65), {115, 10, 270, 20});
  paint(img, label == 4, {28, 8, 340, 25});
  paint(img, gas, {-850, 40, 15, 5});
  img = blur(img, {0.4, 0.7, 0.7});
  if (ct) {
    img = img + 14 * white_noise(rng, shape);
    img = img.round().clamp(-1024, 3071).to(torch::kShort);
  } else {
    img = img * torch::exp(0.25 * smooth_noise(rng, shape, {3, 12, 12}));  // coil bias field
    const auto n1 = white_noise(rng, shape), n2 = white_noise(rng, shape);
    img = torch::sqrt(torch::pow(img + 22 * n1, 2) + torch::pow(22 * n2, 2));  // Rician magnitude noise
  }

  PhantomCase out;
  out.image.data = img.unsqueeze(0).contiguous();
  out.label.data = label.unsqueeze(0).contiguous();
  if (index % 3 == 1) {
    // Stored with x and y flipped: direction diag(-1, -1, 1), origin at the far corner, voxels
    // flipped, so every tissue stays at the same physical position.
    out.image.data = out.image.data.flip({2, 3}).contiguous();
    out.label.data = out.label.data.flip({2, 3}).contiguous();
    g.origin[0] += static_cast<double>(W - 1) * g.spacing[0];
    g.origin[1] += static_cast<double>(H - 1) * g.spacing[1];
    g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  }
  out.image.geometry = g;
  out.label.geometry = g;
  out.image.stored_dtype = ct ? "int16" : "float32";
  out.label.stored_dtype = "uint8";
  return out;
}

namespace {

/// Writes cases 0 .. num_train + num_test - 1 (`make_case(i)`: image and label) into an MSD task
/// folder `tmp` as imagesTr/labelsTr/imagesTs/<prefix>_<iii>.nii.gz; returns dataset.json's
/// "training" and "test" lists.
template <class MakeCase>
std::pair<nlohmann::json, nlohmann::json> write_msd_cases(const fs::path& tmp, const std::string& prefix, int num_train,
                                                          int num_test, MakeCase make_case) {
  nlohmann::json training = nlohmann::json::array(), test = nlohmann::json::array();
  for (int i = 0; i < num_train + num_test; ++i) {
    const auto c = make_case(i);
    const std::string id = fmt::format("{}_{:03d}", prefix, i);
    const std::string image = fmt::format("{}/{}.nii.gz", i < num_train ? "imagesTr" : "imagesTs", id);
    io::write_volume(c.image, tmp / image);
    if (i < num_train) {
      const std::string label = fmt::format("labelsTr/{}.nii.gz", id);
      io::write_volume(c.label, tmp / label);
      training.push_back({{"image", "./" + image}, {"label", "./" + label}});
    } else {
      test.push_back("./" + image);
    }
  }
  return {std::move(training), std::move(test)};
}

}  // namespace

void write_phantom_task(const fs::path& dir, const PhantomOptions& o) {
  const bool ct = ct_or_mri(o.modality) == "CT";
  GTGM_CHECK(o.num_train >= 1 && o.num_test >= 0, "phantom case counts: {} train, {} test (expected >= 1 and >= 0)",
             o.num_train, o.num_test);
  const std::string prefix = ct ? "synthct" : "synthmri";
  write_synth_dir(dir, dir / "dataset.json", [&](const fs::path& tmp) {
    const auto [training, test] =
        write_msd_cases(tmp, prefix, o.num_train, o.num_test, [&](int i) { return make_phantom(o, i); });
    nlohmann::json labels;
    for (const auto& [v, name] : phantom_labels()) labels[std::to_string(v)] = name;
    const nlohmann::json j = {
        {"name", ct ? "SynthCT" : "SynthMRI"},
        {"description", fmt::format("Synthetic abdominal {} phantoms {} (seed {})", o.modality, kSynthMarker, o.seed)},
        {"reference", "gtgm"},
        {"licence", "CC0"},
        {"tensorImageSize", "3D"},
        {"modality", {{"0", o.modality}}},
        {"labels", labels},
        {"numTraining", o.num_train},
        {"numTest", o.num_test},
        {"training", training},
        {"test", test}};
    core::atomic_write_text(tmp / "dataset.json", j.dump(2) + "\n");
  });
}

io::CremiVolume make_em_volume(const EmOptions& o, int64_t index) {
  const auto [D, H, W] = o.shape;
  GTGM_CHECK(D >= 2 && H >= 16 && W >= 16 && o.num_cells >= 2,
             "EM shape [{}, {}, {}] with {} cells (expected z >= 2, y and x >= 16, cells >= 2)", D, H, W, o.num_cells);
  Rng rng(o.seed, {1000 + static_cast<uint64_t>(index)});
  const std::vector<int64_t> shape{D, H, W};
  const auto [rz, ry, rx] = o.resolution;
  const auto zc = (torch::arange(D, torch::kFloat) * rz).view({D, 1, 1}).expand(shape);
  // Smooth displacements make membranes wavy instead of straight Voronoi facets.
  const auto yc = (torch::arange(H, torch::kFloat) * ry).view({1, H, 1}) + 3 * ry * smooth_noise(rng, shape, {1, 4, 4});
  const auto xc = (torch::arange(W, torch::kFloat) * rx).view({1, 1, W}) + 3 * rx * smooth_noise(rng, shape, {1, 4, 4});
  const int64_t n = o.num_cells;
  auto seeds = torch::empty({n, 3});
  for (int64_t k = 0; k < n; ++k) {
    seeds[k][0] = rng.uniform(0, static_cast<double>(D) * rz);
    seeds[k][1] = rng.uniform(0, static_cast<double>(H) * ry);
    seeds[k][2] = rng.uniform(0, static_cast<double>(W) * rx);
  }
  // Distances with z weighted down: cells are neurites elongated along z.
  const double z_weight = 0.3;
  auto pts = torch::stack({zc.reshape(-1) * z_weight, yc.reshape(-1), xc.reshape(-1)}, 1);  // [V, 3]
  auto s = seeds.clone();
  s.select(1, 0).mul_(z_weight);
  const auto d = torch::cdist(pts, s);  // [V, n]
  const auto top = d.topk(2, 1, /*largest=*/false);
  const auto dist = std::get<0>(top);
  const auto cell = std::get<1>(top).select(1, 0).reshape(shape);
  const auto gap = (dist.select(1, 1) - dist.select(1, 0)).reshape(shape);
  const auto tex = smooth_noise(rng, shape, {0.5, 1.5, 1.5});
  const auto membrane = gap < 2.2 * std::min(ry, rx) * (1 + 0.25 * smooth_noise(rng, shape, {1, 3, 3}));

  std::vector<int64_t> ids(static_cast<size_t>(n));
  auto offsets = torch::empty({n});
  for (int64_t k = 0; k < n; ++k) {
    // Distinct, large, non-consecutive ids (some above 2^32) as in real CREMI volumes.
    ids[static_cast<size_t>(k)] = (int64_t(index) + 1) * (int64_t(1) << 33) + k * 1000 + rng.randint(0, 999);
    offsets[k] = rng.uniform(-15, 15);
  }
  auto raw = 172 + offsets.index({cell}) + 14 * tex;
  // Mitochondria: dark z-elongated blobs inside half of the cells.
  for (int64_t k = 0; k < n; ++k) {
    if (!rng.bernoulli(0.5)) continue;
    const double scale = rng.uniform(0.8, 1.3);
    const std::array<double, 3> c{seeds[k][0].item<double>(), seeds[k][1].item<double>() + rng.uniform(-30, 30),
                                  seeds[k][2].item<double>() + rng.uniform(-30, 30)};
    const auto dm = ellipsoid(zc, yc, xc, c, {90 * scale, 22 * scale, 22 * scale});
    const auto in_cell = cell == k;
    raw = torch::where((dm < 1) & in_cell, 95 + 8 * tex, raw);
    raw = torch::where((dm >= 0.8) & (dm < 1) & in_cell, torch::full_like(raw, 70), raw);
  }
  raw = torch::where(membrane, 50 + 8 * tex, raw);
  raw = blur(raw, {0, 0.6, 0.6});
  const auto slice_shift = 6 * white_noise(rng, {D, 1, 1});  // section-to-section brightness
  raw = raw + slice_shift + 10 * white_noise(rng, shape);

  io::CremiVolume out;
  out.raw.data = raw.round().clamp(0, 255).to(torch::kByte).unsqueeze(0).contiguous();
  out.raw.geometry.spacing = {rx, ry, rz};
  out.raw.stored_dtype = "uint8";
  io::Volume labels;
  labels.data = torch::tensor(ids).index({cell}).unsqueeze(0).contiguous();
  labels.geometry = out.raw.geometry;
  labels.stored_dtype = "uint64";
  out.neuron_ids = labels;
  return out;
}

void write_em_dataset(const fs::path& dir, const EmOptions& o) {
  GTGM_CHECK(o.num_volumes >= 1 && o.num_volumes <= 26, "EM volumes: {} (expected 1..26)", o.num_volumes);
  write_synth_dir(dir, dir / "README.txt", [&](const fs::path& tmp) {
    for (int i = 0; i < o.num_volumes; ++i)
      io::write_cremi(tmp / fmt::format("sample_{}.hdf", static_cast<char>('A' + i)), make_em_volume(o, i));
    core::atomic_write_text(tmp / "README.txt",
                            fmt::format("Synthetic EM volumes in the CREMI layout, {} (seed {}).\n"
                                        "volumes/raw: uint8 [z, y, x]; volumes/labels/neuron_ids: uint64; "
                                        "resolution (z, y, x) = ({}, {}, {}) nm.\n",
                                        kSynthMarker, o.seed, o.resolution[0], o.resolution[1], o.resolution[2]));
  });
}

std::vector<fs::path> run_synth(const SynthOptions& o) {
  GTGM_CHECK(!o.out.empty(), "gtgm synth: --out is empty (expected the output folder)");
  GTGM_CHECK(!o.kinds.empty(), "gtgm synth: no dataset kind (expected ct, mri and/or em)");
  for (const auto& k : o.kinds)
    GTGM_CHECK(k == "ct" || k == "mri" || k == "em", "gtgm synth: unknown kind '{}' (expected ct, mri or em)", k);
  const uint64_t seed = o.phantom.seed;
  std::vector<fs::path> written;
  for (const auto& k : o.kinds) {
    if (k == "em") {
      EmOptions e = o.em;
      e.seed = core::derive_seed(seed, {3});
      written.push_back(o.out / "cremi_synth");
      write_em_dataset(written.back(), e);
    } else {
      PhantomOptions p = o.phantom;
      p.modality = k == "ct" ? "CT" : "MRI";
      p.seed = core::derive_seed(seed, {k == "ct" ? 1u : 2u});
      written.push_back(o.out / (k == "ct" ? "Task01_SynthCT" : "Task02_SynthMRI"));
      write_phantom_task(written.back(), p);
    }
  }
  return written;
}

}  // namespace gtgm::data

namespace gtgm::data {

// ---- stand-ins for the 13 datasets of the paper's table ---------------------------------------

const std::vector<DecathlonTaskSpec>& decathlon_tasks() {
  // Channels and label names as in the real tasks' dataset.json. The tissue map picks, per task, the
  // phantom structures that play its classes (0 background, 1 liver, 2 kidney, 3 spleen, 4 lesion),
  // so tasks differ in what is foreground, and lesion tasks get bigger, always-present lesions.
  // Mostly structures with contrast (liver, kidney, lesions); Spleen keeps the spleen, whose CT
  // intensity is within noise of the surrounding tissue: the hard one.
  static const std::vector<DecathlonTaskSpec> specs = {
      {"Task01_BrainTumour",
       "BrainTumour",
       "BRATS",
       "MRI",
       {"FLAIR", "T1w", "t1gd", "T2w"},
       {"background", "edema", "non-enhancing tumor", "enhancing tumour"},
       {0, 1, 3, 0, 2},
       1,
       1.8},
      {"Task02_Heart", "LeftAtrium", "la", "MRI", {"MRI"}, {"background", "left atrium"}, {0, 1, 0, 0, 1}},
      {"Task03_Liver", "Liver", "liver", "CT", {"CT"}, {"background", "liver", "cancer"}, {0, 1, 0, 0, 2}, 1, 1.6},
      {"Task04_Hippocampus",
       "Hippocampus",
       "hippocampus",
       "MRI",
       {"MRI"},
       {"background", "Anterior", "Posterior"},
       {0, 1, 2, 0, 1}},
      {"Task05_Prostate", "Prostate", "prostate", "MRI", {"T2", "ADC"}, {"background", "PZ", "TZ"}, {0, 1, 2, 0, 1}},
      {"Task06_Lung", "Lung", "lung", "CT", {"CT"}, {"background", "cancer"}, {0, 0, 0, 0, 1}, 1, 2.0},
      {"Task07_Pancreas",
       "Pancreas",
       "pancreas",
       "CT",
       {"CT"},
       {"background", "pancreas", "cancer"},
       {0, 0, 1, 0, 2},
       1,
       1.6},
      {"Task08_HepaticVessel",
       "HepaticVessel",
       "hepaticvessel",
       "CT",
       {"CT"},
       {"background", "Vessel", "Tumour"},
       {0, 0, 1, 0, 2},
       1,
       1.6},
      {"Task09_Spleen", "Spleen", "spleen", "CT", {"CT"}, {"background", "spleen"}, {0, 0, 0, 1, 0}},
      {"Task10_Colon", "Colon", "colon", "CT", {"CT"}, {"background", "colon cancer primaries"}, {0, 0, 1, 0, 0}},
  };
  return specs;
}

const DecathlonTaskSpec& decathlon_task(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& s : decathlon_tasks()) {
    if (s.folder == folder) return s;
    names.push_back(s.folder);
  }
  GTGM_THROW("unknown MSD task '{}' (expected one of: {})", folder, fmt::join(names, ", "));
}

PhantomCase make_decathlon_case(const DecathlonTaskSpec& spec, const PhantomOptions& options, int64_t index) {
  GTGM_CHECK(!spec.channels.empty() && spec.labels.size() >= 2,
             "task {}: {} channel(s), {} label(s) (expected >= 1, >= 2)", spec.folder, spec.channels.size(),
             spec.labels.size());
  for (int c : spec.tissue_to_class)
    GTGM_CHECK(c >= 0 && c < static_cast<int>(spec.labels.size()), "task {}: tissue maps to class {} (expected 0..{})",
               spec.folder, c, spec.labels.size() - 1);
  PhantomOptions o = options;
  o.modality = spec.modality;
  o.min_lesions = spec.min_lesions;
  o.lesion_scale = spec.lesion_scale;
  PhantomCase c = make_phantom(o, index);

  const auto tissue = c.label.data.to(torch::kLong);  // [1, D, H, W]
  const auto lut = torch::tensor(std::vector<int64_t>(spec.tissue_to_class.begin(), spec.tissue_to_class.end()));
  c.label.data = lut.index({tissue}).to(torch::kByte).contiguous();

  const auto n_channels = static_cast<int64_t>(spec.channels.size());
  if (n_channels > 1) {
    // Further channels: the same anatomy under another contrast (per-tissue offsets, an overall gain
    // that may invert, as T1 vs T2) with noise of their own. A channel is one MRI sequence, so its
    // contrast belongs to the task: drawn from the seed and the task alone, the same in every case
    // (drawn per case, a channel showed the tumour bright in one case and dark in the next, and the
    // multi-channel stand-ins could not be learnt). Only the noise is drawn per case.
    // FNV-1a of the folder name (legacy basis, so the synthetic data stays as it was): tasks differ.
    const uint64_t task_tag = core::fnv1a64(spec.folder, core::kFnv1a64LegacyBasis);
    Rng contrast(o.seed, {2001, task_tag});
    Rng rng(o.seed, {2000 + static_cast<uint64_t>(index)});
    const auto base = c.image.data[0].to(torch::kFloat);
    const double scale = base.std().item<double>() + 1e-6;
    std::vector<Tensor> channels{base};
    for (int64_t ch = 1; ch < n_channels; ++ch) {
      const double sign = contrast.bernoulli(0.5) ? -1.0 : 1.0;
      const double gain = sign * contrast.uniform(0.5, 1.2);
      auto img = gain * base;
      for (int64_t t = 1; t <= 4; ++t) {
        const double offset = contrast.uniform(-0.6, 0.6) * scale;
        img = img + offset * (tissue[0] == t).to(torch::kFloat);
      }
      const double noise = contrast.uniform(0.03, 0.08) * scale;
      img = img + noise * white_noise(rng, base.sizes());
      channels.push_back(img - img.min());  // magnitude images are non-negative
    }
    c.image.data = torch::stack(channels).contiguous();
    c.image.stored_dtype = "float32";
  }
  return c;
}

void write_decathlon_task(const fs::path& dir, const DecathlonTaskSpec& spec, const PhantomOptions& o) {
  GTGM_CHECK(o.num_train >= 1 && o.num_test >= 0, "task {}: {} train, {} test cases (expected >= 1 and >= 0)",
             spec.folder, o.num_train, o.num_test);
  write_synth_dir(dir, dir / "dataset.json", [&](const fs::path& tmp) {
    const auto [training, test] = write_msd_cases(tmp, spec.case_prefix, o.num_train, o.num_test,
                                                  [&](int i) { return make_decathlon_case(spec, o, i); });
    nlohmann::json modality = nlohmann::json::object(), labels = nlohmann::json::object();
    for (size_t k = 0; k < spec.channels.size(); ++k) modality[std::to_string(k)] = spec.channels[k];
    for (size_t k = 0; k < spec.labels.size(); ++k) labels[std::to_string(k)] = spec.labels[k];
    const nlohmann::json j = {{"name", spec.name},
                              {"description", fmt::format("Synthetic stand-in for {} ({} phantoms) {} (seed {})",
                                                          spec.folder, spec.modality, kSynthMarker, o.seed)},
                              {"reference", "gtgm"},
                              {"licence", "CC0"},
                              {"release", "1.0"},
                              {"tensorImageSize", spec.channels.size() > 1 ? "4D" : "3D"},
                              {"modality", modality},
                              {"labels", labels},
                              {"numTraining", o.num_train},
                              {"numTest", o.num_test},
                              {"training", training},
                              {"test", test}};
    core::atomic_write_text(tmp / "dataset.json", j.dump(4) + "\n");
  });
}

std::vector<std::string> demo13_names() {
  std::vector<std::string> names;
  for (const auto& s : decathlon_tasks()) names.push_back(s.folder);
  for (const char* v : {"CREMI_A", "CREMI_B", "CREMI_C"}) names.emplace_back(v);
  return names;
}

std::vector<fs::path> write_demo13(const Demo13Options& o) {
  GTGM_CHECK(!o.out.empty(), "gtgm synth --suite demo13: --out is empty (expected the output folder)");
  const auto names = demo13_names();
  for (const auto& n : o.only)
    GTGM_CHECK(std::find(names.begin(), names.end(), n) != names.end(),
               "gtgm synth --suite demo13: unknown dataset '{}' (expected some of: {})", n, fmt::join(names, ", "));
  auto wanted = [&](const std::string& n) {
    return o.only.empty() || std::find(o.only.begin(), o.only.end(), n) != o.only.end();
  };
  std::vector<fs::path> written;
  for (size_t k = 0; k < names.size(); ++k) {
    if (!wanted(names[k])) continue;
    // Seed per dataset from its position in the fixed list: a subset writes the same bytes.
    const uint64_t seed = core::derive_seed(o.phantom.seed, {100 + k});
    if (k < decathlon_tasks().size()) {
      PhantomOptions p = o.phantom;
      p.seed = seed;
      written.push_back(o.out / names[k]);
      write_decathlon_task(written.back(), decathlon_tasks()[k], p);
    } else {
      const int index = static_cast<int>(k - decathlon_tasks().size());
      const char letter = static_cast<char>('A' + index);
      EmOptions e = o.em;
      e.seed = seed;
      const fs::path dir = o.out / "cremi" / std::string(1, letter);
      write_synth_dir(dir, dir / "README.txt", [&](const fs::path& tmp) {
        io::CremiVolume v = make_em_volume(e, index);
        // Real CREMI neuron ids are non-consecutive but fit in int32, as the segmentation cache
        // requires; make_em_volume's ids (above 2^32, to exercise uint64 I/O) are mapped there.
        const auto inverse = std::get<1>(at::_unique(v.neuron_ids->data, /*sorted=*/true, /*return_inverse=*/true));
        v.neuron_ids->data = (inverse * 37 + 1000 + 100000 * index).to(torch::kLong).contiguous();
        io::write_cremi(tmp / fmt::format("sample_{}.hdf", letter), v);
        core::atomic_write_text(
            tmp / "README.txt",
            fmt::format("Synthetic stand-in for CREMI sample {} in the CREMI layout, {} (seed {}).\n"
                        "volumes/raw: uint8 [z, y, x]; volumes/labels/neuron_ids: uint64; resolution (z, y, x) = "
                        "({}, {}, {}) nm.\n",
                        letter, kSynthMarker, e.seed, e.resolution[0], e.resolution[1], e.resolution[2]));
      });
      written.push_back(dir);
    }
  }
  return written;
}

}  // namespace gtgm::data
