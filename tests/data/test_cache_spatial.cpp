// Cache file format, index transforms, spatial preprocessing and restore_to_source, planning.
#include <gtest/gtest.h>

#include <fstream>

#include "data_fixtures.h"
#include "gtgm/data/cache_format.h"
#include "gtgm/data/plan.h"
#include "gtgm/data/preprocess.h"
#include "gtgm/data/spatial.h"
#include "test_util.h"

namespace gtgm {
namespace {

using data::CacheCompression;
using data::CacheDType;

io::Geometry odd_geometry() {
  io::Geometry g;
  g.spacing = {0.7, 0.9, 3.0};
  g.origin = {-12.5, 30.25, 7.0};
  // index i -> -y, j -> +z, k -> -x (a signed permutation)
  g.direction = {0, 0, -1, -1, 0, 0, 0, 1, 0};
  return g;
}

TEST(CacheFormat, RoundTripEveryDtypeAndCompression) {
  test::TempDir tmp;
  struct Case {
    CacheDType dtype;
    CacheCompression comp;
  };
  std::vector<Case> cases{{CacheDType::Float32, CacheCompression::None},
                          {CacheDType::Float16, CacheCompression::None},
                          {CacheDType::UInt8, CacheCompression::None},
                          {CacheDType::Int16, CacheCompression::None},
                          {CacheDType::Int32, CacheCompression::None}};
  if (data::zstd_available()) {
    cases.push_back({CacheDType::Float32, CacheCompression::Zstd});
    cases.push_back({CacheDType::UInt8, CacheCompression::Zstd});
  }
  const auto values = (torch::arange(2 * 3 * 4 * 5, torch::kFloat) % 200).view({2, 3, 4, 5});
  for (const auto& c : cases) {
    data::CacheHeader h;
    h.dtype = c.dtype;
    h.compression = c.comp;
    h.geometry = odd_geometry();
    h.source_shape = {9, 8, 7};
    h.source_geometry.spacing = {0.5, 0.5, 1.5};
    h.to_source = data::IndexTransform::scale_offset({2, 0.5, 1}, {1, -0.25, 3});
    const auto path = tmp / ("a_" + data::cache_dtype_name(c.dtype) + std::to_string(int(c.comp)) + ".gvol");
    data::write_cache_array(path, values, h);
    const auto a = data::CachedArray::open(path);
    EXPECT_EQ(a.header().dtype, c.dtype);
    EXPECT_EQ(a.header().compression, c.comp);
    EXPECT_EQ(a.header().shape, (std::array<int64_t, 4>{2, 3, 4, 5}));
    EXPECT_EQ(a.header().geometry.direction, h.geometry.direction);
    EXPECT_EQ(a.header().geometry.origin, h.geometry.origin);
    EXPECT_EQ(a.header().source_shape, h.source_shape);
    EXPECT_EQ(a.header().source_geometry.spacing, h.source_geometry.spacing);
    EXPECT_EQ(a.header().to_source.m, h.to_source.m);
    EXPECT_EQ(a.tensor().scalar_type(), data::cache_dtype_to_torch(c.dtype));
    EXPECT_TRUE(torch::equal(a.tensor().to(torch::kFloat), values)) << data::cache_dtype_name(c.dtype);
    if (c.comp == CacheCompression::None) {
      // Raw payloads are used in place: the tensor sits page-aligned inside the mapping.
      EXPECT_EQ(reinterpret_cast<uintptr_t>(a.tensor().data_ptr()) % 4096, 0u);
    }
    EXPECT_EQ(data::read_cache_header(path).shape, a.header().shape);
  }
}

TEST(CacheFormat, TensorOutlivesTheArrayObject) {
  test::TempDir tmp;
  data::write_cache_array(tmp / "x.gvol", torch::ones({1, 2, 2, 2}), {});
  torch::Tensor t;
  { t = data::CachedArray::open(tmp / "x.gvol").tensor(); }
  EXPECT_EQ(t.sum().item<float>(), 8.0f);
}

TEST(CacheFormat, BadFilesGiveClearErrors) {
  test::TempDir tmp;
  const auto path = tmp / "x.gvol";
  data::write_cache_array(path, torch::ones({1, 4, 4, 4}), {});
  std::string bytes = core::read_text_file(path);

  test::write_file(tmp / "truncated.gvol", bytes.substr(0, bytes.size() - 10));
  EXPECT_THROW_MSG(data::CachedArray::open(tmp / "truncated.gvol"), "truncated.gvol: cache file is truncated");

  test::write_file(tmp / "magic.gvol", "NOTAGVOL" + bytes.substr(8));
  EXPECT_THROW_MSG(data::CachedArray::open(tmp / "magic.gvol"), "magic.gvol: not a gtgm cache file (bad magic");

  std::string v = bytes;
  v[8] = 9;  // version 9
  test::write_file(tmp / "version.gvol", v);
  EXPECT_THROW_MSG(data::CachedArray::open(tmp / "version.gvol"),
                   "cache format version 9 but this gtgm reads version 1; re-run `gtgm preprocess`");

  std::string c = bytes;
  c[40] ^= 0x5a;  // inside the shape fields
  test::write_file(tmp / "corrupt.gvol", c);
  EXPECT_THROW_MSG(data::CachedArray::open(tmp / "corrupt.gvol"), "checksum mismatch (corrupt file)");

  EXPECT_THROW_MSG(data::CachedArray::open(tmp / "missing.gvol"), "missing.gvol: cannot open cache file");

  data::CacheHeader h;
  h.dtype = CacheDType::UInt8;
  EXPECT_THROW_MSG(data::write_cache_array(tmp / "y.gvol", torch::full({1, 1, 1, 2}, 300), h),
                   "values in [300, 300] do not fit cache dtype uint8");
  EXPECT_THROW_MSG(data::write_cache_array(tmp / "y.gvol", torch::full({1, 1, 1, 2}, 1.5), h),
                   "non-integer values cannot be stored as uint8");
  EXPECT_THROW_MSG(data::write_cache_array(tmp / "y.gvol", torch::ones({2, 2}), h),
                   "cache arrays are [C, D, H, W]; got a tensor with 2 dims");
  try {
    data::parse_cache_compression("lz4");
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("expected one of: none, zstd"), std::string::npos);
  }
}

TEST(IndexTransform, ComposeAndInvert) {
  const auto a = data::IndexTransform::scale_offset({2, 3, 4}, {1, 2, 3});
  data::IndexTransform b;  // swap d and w, flip h in a size-10 axis
  b.m = {0, 0, 1, 0, 0, -1, 0, 9, 1, 0, 0, 0};
  const auto ab = a.then(b);
  const std::array<double, 3> x{1.5, -2, 7};
  const auto y = ab.apply(x);
  const auto y2 = b.apply(a.apply(x));
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(y[i], y2[i]);
  EXPECT_DOUBLE_EQ(y[0], 4 * 7 + 3);
  EXPECT_DOUBLE_EQ(y[1], 9 - (3 * -2 + 2));
  const auto back = ab.inverse().apply(y);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(back[i], x[i], 1e-12);
  data::IndexTransform singular;
  singular.m.fill(0);
  EXPECT_THROW_MSG(singular.inverse(), "index transform is singular");
}

/// Physical position of tensor index (d, h, w).
std::array<double, 3> physical(const io::Geometry& g, std::array<double, 3> dhw) {
  const std::array<double, 3> ijk{dhw[2], dhw[1], dhw[0]};
  std::array<double, 3> p = g.origin;
  for (int r = 0; r < 3; ++r) {
    for (int a = 0; a < 3; ++a) p[r] += g.direction[r * 3 + a] * g.spacing[a] * ijk[a];
  }
  return p;
}

TEST(Spatial, ReorientKeepsEveryVoxelAtItsPhysicalPosition) {
  const std::vector<std::array<double, 9>> directions{{1, 0, 0, 0, 1, 0, 0, 0, 1},
                                                      {-1, 0, 0, 0, -1, 0, 0, 0, 1},
                                                      {0, 0, -1, -1, 0, 0, 0, 1, 0},
                                                      {0, 1, 0, 0, 0, -1, -1, 0, 0},
                                                      {1, 0, 0, 0, 0, 1, 0, -1, 0}};
  for (const auto& dir : directions) {
    for (const config::Orientation orient : {config::Orientation::LPS, config::Orientation::RAS}) {
      auto v = test::index_volume(1, 3, 4, 5);
      v.geometry = odd_geometry();
      v.geometry.direction = dir;
      data::IndexTransform new_to_old;
      const auto r = data::canonical_reorientation(v.geometry, orient);
      const auto out = data::reorient(v, r, &new_to_old);
      // Direction becomes diag(+-1) with the orientation's signs.
      const std::array<double, 3> want =
          orient == config::Orientation::LPS ? std::array<double, 3>{1, 1, 1} : std::array<double, 3>{-1, -1, 1};
      for (int row = 0; row < 3; ++row) {
        for (int col = 0; col < 3; ++col) {
          EXPECT_DOUBLE_EQ(out.geometry.direction[row * 3 + col], row == col ? want[row] : 0.0);
        }
      }
      // Every voxel keeps its value at the same physical point, and new_to_old finds it.
      for (int64_t d = 0; d < out.data.size(1); ++d) {
        for (int64_t h = 0; h < out.data.size(2); ++h) {
          for (int64_t w = 0; w < out.data.size(3); ++w) {
            const auto old = new_to_old.apply({double(d), double(h), double(w)});
            const float value = out.data[0][d][h][w].item<float>();
            EXPECT_EQ(value, v.data[0][int64_t(old[0])][int64_t(old[1])][int64_t(old[2])].item<float>());
            const auto p1 = physical(out.geometry, {double(d), double(h), double(w)});
            const auto p0 = physical(v.geometry, old);
            for (int k = 0; k < 3; ++k) EXPECT_NEAR(p1[k], p0[k], 1e-9);
          }
        }
      }
    }
  }
  EXPECT_TRUE(data::canonical_reorientation(odd_geometry(), config::Orientation::None).is_identity());
}

TEST(Spatial, NonzeroBoxAndCrop) {
  auto v = test::index_volume(1, 4, 5, 6);
  v.data.zero_();
  v.data[0][1][2][3] = 1;
  v.data[0][2][4][1] = 1;
  const auto box = data::nonzero_box(v.data);
  EXPECT_EQ(box.begin, (std::array<int64_t, 3>{1, 2, 1}));
  EXPECT_EQ(box.end, (std::array<int64_t, 3>{3, 5, 4}));
  v.geometry = odd_geometry();
  data::IndexTransform t;
  const auto c = data::crop(v, box, &t);
  EXPECT_EQ(c.data.sizes(), torch::IntArrayRef({1, 2, 3, 3}));
  const auto p1 = physical(c.geometry, {0, 0, 0});
  const auto p0 = physical(v.geometry, {1, 2, 1});
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(p1[k], p0[k], 1e-12);
  EXPECT_EQ(data::nonzero_box(torch::zeros({1, 2, 3, 4})).end, (std::array<int64_t, 3>{2, 3, 4}));
  EXPECT_THROW_MSG(data::crop(v, data::Box{{0, 0, 0}, {9, 1, 1}}, nullptr), "crop: box [0, 9) on axis 0");
}

TEST(Spatial, ResampleValuesAndGeometry) {
  // Linear, voxel-centre aligned: [0, 1] -> [0, 0.25, 0.75, 1].
  io::Volume v;
  v.data = torch::tensor({0.0f, 1.0f}).view({1, 1, 1, 2});
  v.geometry.spacing = {2.0, 1.0, 1.0};
  data::IndexTransform t;
  const auto r = data::resample(v, {1, 1, 4}, false, data::LabelInterp::Nearest, &t);
  EXPECT_TRUE(torch::allclose(r.data.flatten(), torch::tensor({0.0f, 0.25f, 0.75f, 1.0f})));
  EXPECT_DOUBLE_EQ(r.geometry.spacing[0], 1.0);
  EXPECT_DOUBLE_EQ(r.geometry.origin[0], -0.5);  // centre of the first half-size voxel
  EXPECT_DOUBLE_EQ(t.apply({0, 0, 0})[2], -0.25);
  // Nearest labels keep integer ids exactly (beyond float precision) and align centres.
  const auto big = torch::tensor(std::vector<int64_t>{123456789012, 5}).view({1, 1, 1, 2});
  EXPECT_TRUE(torch::equal(data::resample_labels(big, {1, 1, 4}, data::LabelInterp::Nearest).flatten(),
                           torch::tensor(std::vector<int64_t>{123456789012, 123456789012, 5, 5})));
  // Per-class linear: argmax of interpolated one-hot channels, never an in-between label value.
  const auto nine = torch::tensor(std::vector<int64_t>{1, 1, 1, 3, 3, 3, 3, 3, 3}).view({1, 1, 1, 9});
  EXPECT_TRUE(torch::equal(data::resample_labels(nine, {1, 1, 3}, data::LabelInterp::Linear).flatten(),
                           torch::tensor(std::vector<int64_t>{1, 3, 3})));
  const auto up = data::resample_labels(torch::tensor(std::vector<int64_t>{0, 0, 4, 4}).view({1, 1, 1, 4}), {1, 1, 8},
                                        data::LabelInterp::Linear)
                      .flatten();
  EXPECT_TRUE(torch::equal(up, torch::tensor(std::vector<int64_t>{0, 0, 0, 0, 4, 4, 4, 4})));
  EXPECT_EQ(data::resampled_shape({10, 20, 30}, {3.0, 1.0, 0.5}, {1.5, 1.0, 1.0}),
            (std::array<int64_t, 3>{20, 20, 15}));
}

TEST(Preprocess, RestoreToSourceInvertsTheWholeChain) {
  // Labels on an oblique-free but permuted/flipped grid, zero border (cropped), resampled 2x
  // finer: nearest restore must give the source labels back exactly.
  auto [img, lab] = test::phantom(6, 8, 10, 3);
  img.geometry = odd_geometry();
  lab.geometry = img.geometry;
  auto padded = torch::zeros({1, 8, 10, 12});
  padded.slice(1, 1, 7).slice(2, 1, 9).slice(3, 1, 11).copy_(img.data + 2000);
  auto padded_lab = torch::zeros({1, 8, 10, 12}, torch::kLong);
  padded_lab.slice(1, 1, 7).slice(2, 1, 9).slice(3, 1, 11).copy_(lab.data);
  img.data = padded;
  lab.data = padded_lab;

  data::Plan plan;
  plan.modality = config::Modality::MRI;
  plan.normalization = {data::NormalizationParams{}};
  plan.labels = {0, 1, 2};
  // Half the reoriented spacing: every cache voxel is half a source voxel along each axis.
  const auto r = data::canonical_reorientation(img.geometry, config::Orientation::LPS);
  const auto ro = data::reorient(img, r);
  const auto sp = ro.geometry.spacing_dhw();
  plan.target_spacing = {sp[0] / 2, sp[1] / 2, sp[2] / 2};
  const auto pc = data::preprocess_case(img, &lab, plan, 1);
  EXPECT_EQ(pc.image.size(1), 2 * ro.data.size(1) - 4);  // 1-voxel zero border cropped on each side
  const auto back = data::restore_to_source(pc.label, pc.header, data::RestoreInterp::Nearest);
  EXPECT_EQ(back.data.sizes(), lab.data.sizes());
  EXPECT_TRUE(torch::equal(back.data, lab.data));
  EXPECT_EQ(back.geometry.direction, img.geometry.direction);
  // The image comes back (linear) close to its normalised source inside the crop.
  const auto img_back = data::restore_to_source(pc.image, pc.header, data::RestoreInterp::Linear, -99.0);
  EXPECT_EQ(img_back.data[0][0][0][0].item<float>(), -99.0f);  // outside the crop = fill
  // Foreground locations point at labelled voxels.
  for (const auto& [value, locs] : pc.fg) {
    ASSERT_FALSE(locs.empty());
    for (const auto& l : locs) EXPECT_EQ(pc.label[0][l[0]][l[1]][l[2]].item<int64_t>(), value);
  }
  EXPECT_EQ(pc.fg.size(), 2u);
  EXPECT_THROW_MSG(data::restore_to_source(torch::zeros({1, 2, 2, 2}), pc.header, data::RestoreInterp::Nearest),
                   "does not match the cache array");
}

TEST(Plan, TargetSpacingFollowsTheAnisotropicAxisRule) {
  // Isotropic-ish: the median per axis.
  EXPECT_EQ(data::plan_target_spacing({{1, 1, 1}, {2, 1, 1}, {3, 0.5, 0.5}},
                                      {{100, 100, 100}, {50, 100, 100}, {30, 200, 200}}),
            (std::array<double, 3>{2, 1, 1}));
  // Anisotropic spacing AND voxels: 10th percentile of z spacings (numpy linear), here 3.4.
  const std::vector<std::array<double, 3>> sp{
      {5, 0.8, 0.8}, {5, 0.8, 0.8}, {3, 0.7, 0.7}, {6, 0.9, 0.9}, {4, 0.8, 0.8}};
  const std::vector<std::array<int64_t, 3>> sh{
      {40, 512, 512}, {30, 512, 512}, {60, 512, 512}, {25, 512, 512}, {50, 512, 512}};
  const auto t = data::plan_target_spacing(sp, sh);
  EXPECT_NEAR(t[0], 3.4, 1e-12);
  EXPECT_DOUBLE_EQ(t[1], 0.8);
  // Anisotropic spacing but not voxels (thick slices, few in-plane voxels): plain median.
  const std::vector<std::array<int64_t, 3>> sh2{
      {100, 120, 120}, {100, 120, 120}, {100, 120, 120}, {100, 120, 120}, {100, 120, 120}};
  EXPECT_DOUBLE_EQ(data::plan_target_spacing(sp, sh2)[0], 5.0);
  // The 10th percentile never goes below the coarsest other axis.
  const std::vector<std::array<double, 3>> sp3{{4, 1.5, 1}, {0.5, 1.5, 1}, {4, 1.5, 1}, {0.5, 1.5, 1}, {4, 1.5, 1}};
  const std::vector<std::array<int64_t, 3>> sh3(5, {20, 300, 300});
  EXPECT_NEAR(data::plan_target_spacing(sp3, sh3)[0], 1.5 + 1e-5, 1e-12);
}

TEST(Plan, PatchSizeFitsTheBudget) {
  struct Case {
    std::array<double, 3> spacing;
    std::array<int64_t, 3> median;
    int64_t budget;
    std::array<int64_t, 3> want;
  };
  const std::vector<Case> cases{
      {{1, 1, 1}, {400, 400, 400}, 128 * 128 * 128, {128, 128, 128}},
      {{1, 1, 1}, {40, 400, 400}, 128 * 128 * 128, {32, 256, 256}},
      {{4, 1, 1}, {100, 400, 400}, 64 * 64 * 64, {16, 128, 128}},
      {{1, 1, 1}, {10, 12, 14}, 128 * 128 * 128, {12, 12, 16}},
  };
  for (const auto& c : cases) {
    const auto p = data::suggest_patch_size(c.spacing, c.median, c.budget);
    EXPECT_EQ(p, c.want) << p[0] << "x" << p[1] << "x" << p[2];
    EXPECT_LE(p[0] * p[1] * p[2], c.budget);
  }
}

TEST(Plan, FingerprintStatisticsAndJsonRoundTrip) {
  config::DataConfig cfg;
  io::Volume img, lab;
  img.data = torch::arange(1, 9, torch::kFloat).view({1, 2, 2, 2});  // 1..8
  lab.data = torch::tensor({0, 0, 0, 0, 1, 1, 2, 2}, torch::kLong).view({1, 2, 2, 2});
  img.geometry.spacing = {0.5, 0.5, 2.5};
  auto f = data::fingerprint_case("a", img, &lab, cfg.preprocess, 1);
  EXPECT_EQ(f.label_voxels, (std::map<int64_t, int64_t>{{0, 4}, {1, 2}, {2, 2}}));
  EXPECT_EQ(f.spacing, (std::array<double, 3>{2.5, 0.5, 0.5}));
  const auto fp = data::summarize_fingerprint({f}, cfg.preprocess);
  ASSERT_EQ(fp.intensity.size(), 1u);
  EXPECT_DOUBLE_EQ(fp.intensity[0].mean, 6.5);  // foreground = 5, 6, 7, 8
  EXPECT_DOUBLE_EQ(fp.intensity[0].min, 5);
  EXPECT_DOUBLE_EQ(fp.intensity[0].p00_5, 5 + 3 * 0.005);
  EXPECT_DOUBLE_EQ(fp.intensity[0].p99_5, 5 + 3 * 0.995);
  EXPECT_DOUBLE_EQ(fp.class_frequency.at(1), 0.25);
  const auto again = data::Fingerprint::from_json(fp.to_json(), "fp.json");
  EXPECT_DOUBLE_EQ(again.intensity[0].std, fp.intensity[0].std);
  EXPECT_EQ(again.cases[0].label_voxels, f.label_voxels);

  const auto plan = data::make_plan(fp, cfg);
  EXPECT_EQ(plan.normalization[0].scheme, data::NormScheme::CT);
  EXPECT_TRUE(plan.normalization[0].clip);
  EXPECT_EQ(plan.labels, (std::vector<int64_t>{0, 1, 2}));
  const auto p2 = data::Plan::from_json(plan.to_json(), "plan.json");
  EXPECT_EQ(p2.to_json(), plan.to_json());
  EXPECT_THROW_MSG(data::Plan::from_json("{\"format\": \"gtgm-plan\", \"version\": 1}", "p.json"),
                   "p.json: missing key 'modality'");
  EXPECT_THROW_MSG(data::Plan::from_json("[", "p.json"), "p.json: not valid JSON");

  auto other = cfg;
  other.preprocess.orientation = config::Orientation::RAS;
  try {
    plan.check_matches(other, "plan.json");
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("plan.json was made with data.preprocess.orientation=LPS but the config says "
                                         "RAS; re-run `gtgm plan`"),
              std::string::npos)
        << e.what();
  }
  other = cfg;
  other.preprocess.target_spacing = {1, 2};
  EXPECT_THROW(data::make_plan(fp, other), ConfigError);
}

TEST(Plan, NormalizationSchemes) {
  const auto x = torch::tensor({-2000.0f, 0.0f, 100.0f, 3000.0f}).view({1, 1, 1, 4});
  data::NormalizationParams ct;
  ct.scheme = data::NormScheme::CT;
  ct.clip = true;
  ct.clip_lo = -1000;
  ct.clip_hi = 1000;
  ct.mean = 100;
  ct.std = 50;
  EXPECT_TRUE(torch::allclose(data::normalize_image(x, {ct}).flatten(), torch::tensor({-22.0f, -2.0f, 0.0f, 18.0f})));
  data::NormalizationParams z;
  const auto y = data::normalize_image(x, {z});
  EXPECT_NEAR(y.mean().item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(y.std(false).item<double>(), 1.0, 1e-6);
  EXPECT_THROW_MSG(data::normalize_image(x, {z, z}), "normalisation for 2 channels but the image has 1");
}

TEST(Plan, RangeNormalizationIsScaleIntensityRanged) {
  // Values printed by /usr/bin/python3 scripts/reference/intensity_reference.py (MONAI's
  // ScaleIntensityRange(-175, 250 -> 0, 1, clip) on float32, as finetune/task1.py:99-106 uses it).
  const auto ct = torch::tensor({-1024.0f, -175.0f, -100.0f, 0.0f, 37.5f, 40.0f, 100.0f, 249.0f, 250.0f, 3071.0f});
  const auto ct_expected = torch::tensor({0.0f, 0.0f, 0.176470593f, 0.411764711f, 0.5f, 0.505882382f, 0.647058845f,
                                          0.997647047f, 1.0f, 1.0f});
  const auto mri = torch::tensor({0.0f, 50.0f, 125.0f, 400.0f, 1800.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f});
  const auto mri_expected = torch::tensor({0.411764711f, 0.529411793f, 0.70588237f, 1.0f, 1.0f, 0.411764711f,
                                           0.411764711f, 0.411764711f, 0.411764711f, 0.411764711f});
  // The plan: normalization=range gives every channel of every modality the same window.
  config::DataConfig cfg;
  cfg.modality = config::Modality::MRI;
  cfg.preprocess.normalization = config::Normalization::Range;
  io::Volume img;
  img.data = torch::stack({ct, mri}).view({2, 1, 2, 5});
  const auto fp = data::summarize_fingerprint({data::fingerprint_case("a", img, nullptr, cfg.preprocess, 1)},
                                              cfg.preprocess);
  const auto plan = data::make_plan(fp, cfg);
  ASSERT_EQ(plan.normalization.size(), 2u);
  for (const auto& n : plan.normalization) {
    EXPECT_EQ(n.scheme, data::NormScheme::Range);
    EXPECT_EQ(n.clip_lo, -175.0);
    EXPECT_EQ(n.clip_hi, 250.0);
  }
  const auto y = data::normalize_image(img.data, plan.normalization).view({2, 10});
  EXPECT_TRUE(torch::equal(y[0], ct_expected)) << y[0];  // bit-exact float32
  EXPECT_TRUE(torch::equal(y[1], mri_expected)) << y[1];
  // plan.json records the scheme and the window.
  const auto json = plan.to_json();
  EXPECT_NE(json.find("\"scheme\": \"range\""), std::string::npos) << json;
  EXPECT_EQ(data::Plan::from_json(json, "plan.json").to_json(), json);
  // A config that asks for other normalisation is refused, naming the key.
  auto other = cfg;
  other.preprocess.normalization = config::Normalization::Modality;
  EXPECT_THROW_MSG(plan.check_matches(other, "plan.json"),
                   "plan.json was made with data.preprocess.normalization=range but the config says modality");
  other = cfg;
  other.preprocess.intensity_range = {-1000, 1000};
  EXPECT_THROW_MSG(plan.check_matches(other, "plan.json"),
                   "data.preprocess.intensity_range=[-175, 250] but the config says [-1000, 1000]");
  other.preprocess.intensity_range = {250, -175};
  EXPECT_THROW_MSG(data::make_plan(fp, other),
                   "data.preprocess.intensity_range [250, -175]: expected [a_min, a_max] with a_min < a_max");
  plan.check_matches(cfg, "plan.json");  // the same config passes
  auto by_modality = cfg;
  by_modality.preprocess.normalization = config::Normalization::Modality;
  const auto modality_plan = data::make_plan(fp, by_modality);
  EXPECT_EQ(modality_plan.normalization[0].scheme, data::NormScheme::ZScore);  // MRI
  EXPECT_THROW_MSG(modality_plan.check_matches(cfg, "plan.json"),
                   "data.preprocess.normalization=modality but the config says range");
}

}  // namespace
}  // namespace gtgm
