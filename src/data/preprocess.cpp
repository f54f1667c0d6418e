#include "gtgm/data/preprocess.h"

#include <algorithm>

#include "gtgm/core/error.h"
#include "gtgm/data/rng.h"
#include "gtgm/data/spatial.h"

namespace gtgm::data {

namespace fs = std::filesystem;

namespace {

/// Up to `k` random entries of the flat indices `idx`, converted to (d, h, w).
std::vector<std::array<int64_t, 3>> sample_locations(const torch::Tensor& idx, int64_t k,
                                                     const std::array<int64_t, 3>& shape, Rng& rng) {
  std::vector<std::array<int64_t, 3>> out;
  const int64_t n = idx.numel();
  if (n == 0) return out;
  const auto* p = idx.data_ptr<int64_t>();
  const auto to_dhw = [&](int64_t f) {
    return std::array<int64_t, 3>{f / (shape[1] * shape[2]), (f / shape[2]) % shape[1], f % shape[2]};
  };
  if (n <= k) {
    for (int64_t i = 0; i < n; ++i) out.push_back(to_dhw(p[i]));
    return out;
  }
  for (int64_t i = 0; i < k; ++i) out.push_back(to_dhw(p[rng.randint(0, n - 1)]));
  return out;
}

void check_id(const std::string& id) {
  GTGM_CHECK(!id.empty() && id.find('/') == std::string::npos && id.find('\\') == std::string::npos && id[0] != '.',
             "case id '{}' cannot name a cache file (no '/', '\\' or leading '.')", id);
}

}  // namespace

CacheDType label_cache_dtype(const torch::Tensor& labels, const std::string& what) {
  if (labels.numel() == 0) return CacheDType::UInt8;
  const auto lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  if (lo >= 0 && hi <= 255) return CacheDType::UInt8;
  if (lo >= -32768 && hi <= 32767) return CacheDType::Int16;
  GTGM_CHECK(lo >= -2147483648LL && hi <= 2147483647LL,
             "{}: label values [{}, {}] do not fit int32; relabel the ids consecutively (e.g. skimage "
             "segmentation.relabel_sequential)",
             what, lo, hi);
  return CacheDType::Int32;
}

PreprocessedCase preprocess_case(const io::Volume& image, const io::Volume* label, const Plan& plan, uint64_t seed) {
  const std::string what = image.source.empty() ? std::string("image") : image.source;
  GTGM_CHECK(image.data.dim() == 4, "{}: expected image data [C, D, H, W], got {}", what, image.data.sizes());
  if (label != nullptr) {
    GTGM_CHECK(label->data.dim() == 4 && label->data.size(0) == 1 && label->shape() == image.shape(),
               "{}: label {} does not match image {} (expected [1, D, H, W] with the image's D, H, W)",
               label->source.empty() ? what : label->source, label->data.sizes(), image.data.sizes());
  }
  const auto r = canonical_reorientation(image.geometry, plan.orientation);
  IndexTransform t_re, t_crop, t_res;
  auto img = reorient(image, r, &t_re);
  io::Volume lab;
  if (label != nullptr) {
    io::Volume l = *label;
    l.geometry = image.geometry;  // checked equal (within tolerance) by io/checks; the image's wins
    lab = reorient(l, r);
  }
  if (plan.crop_nonzero) {
    auto box = nonzero_box(img.data);
    if (label != nullptr && (lab.data != 0).any().item<bool>()) {
      // Never crop labelled voxels away, even where the image is zero.
      const auto lb = nonzero_box(lab.data);
      for (int a = 0; a < 3; ++a) {
        box.begin[a] = std::min(box.begin[a], lb.begin[a]);
        box.end[a] = std::max(box.end[a], lb.end[a]);
      }
    }
    img = crop(img, box, &t_crop);
    if (label != nullptr) lab = crop(lab, box);
  }
  img.data = normalize_image(img.data, plan.normalization);
  GTGM_CHECK(torch::isfinite(img.data).all().item<bool>(),
             "{}: NaN or Inf after normalisation (NaN/Inf voxels in the file, or a constant image)", what);
  const auto shape = resampled_shape(img.shape(), img.geometry.spacing_dhw(), plan.target_spacing);
  img = resample(img, shape, /*labels=*/false, LabelInterp::Nearest, &t_res);
  if (label != nullptr) lab = resample(lab, shape, /*labels=*/true, plan.label_interp);

  PreprocessedCase out;
  out.image = img.data;
  out.header.shape = {img.data.size(0), img.data.size(1), img.data.size(2), img.data.size(3)};
  out.header.geometry = img.geometry;
  out.header.source_shape = image.shape();
  out.header.source_geometry = image.geometry;
  out.header.to_source = t_res.then(t_crop).then(t_re);
  out.background = img.data.min().item<double>();
  if (label != nullptr) {
    out.label = lab.data.to(torch::kLong).contiguous();
    if ((plan.instance_labels || plan.modality == config::Modality::EM) && out.label.numel() > 0) {
      // Neuron ids are arbitrary (CREMI stores uint64): ids beyond int32, the widest cache label
      // dtype, are relabelled consecutively in sorted order (0 stays 0). Partitions, and so VOI and
      // ARAND, are unchanged; scores against the source files use the original ids.
      const auto lo = out.label.min().item<int64_t>(), hi = out.label.max().item<int64_t>();
      if (lo < 0 || hi > 2147483647LL) {
        const auto [uniq, inverse, counts] =
            torch::_unique2(out.label.flatten(), /*sorted=*/true, /*return_inverse=*/true);
        const int64_t shift = uniq[0].item<int64_t>() == 0 ? 0 : 1;
        out.label = (inverse + shift).view_as(out.label).contiguous();
      }
    }
    Rng rng(seed, {0x66676c6f63ULL});
    const auto flat = out.label.flatten();
    const auto idx = (flat > 0).nonzero().flatten().contiguous();
    if (plan.instance_labels) {
      auto locs = sample_locations(idx, plan.fg_locations, shape, rng);
      if (!locs.empty()) out.fg[1] = std::move(locs);
    } else {
      const auto vals = flat.index_select(0, idx);
      for (const auto v : plan.labels) {
        if (v <= 0) continue;
        const auto sel = idx.masked_select(vals == v).contiguous();
        auto locs = sample_locations(sel, plan.fg_locations, shape, rng);
        if (!locs.empty()) out.fg[v] = std::move(locs);
      }
    }
  }
  return out;
}

CacheEntry write_cache_case(const fs::path& cache_dir, const std::string& id, const PreprocessedCase& c,
                            const Plan& plan, const std::string& source_image, const std::string& source_label) {
  check_id(id);
  fs::create_directories(cache_dir / "cases");
  CacheEntry e;
  e.id = id;
  e.image = "cases/" + id + ".gvol";
  e.source_image = source_image;
  e.source_label = source_label;
  e.background = c.background;
  e.fg = c.fg;
  auto h = c.header;
  h.dtype = plan.image_dtype == config::ImageDtype::Float16 ? CacheDType::Float16 : CacheDType::Float32;
  h.compression = cache_compression(plan.compression);
  write_cache_array(cache_dir / e.image, c.image, h);
  if (c.label.defined()) {
    e.label = "cases/" + id + "_seg.gvol";
    auto hl = c.header;
    hl.dtype = label_cache_dtype(c.label, "case " + id);
    hl.compression = h.compression;
    write_cache_array(cache_dir / e.label, c.label, hl);
  }
  return e;
}

}  // namespace gtgm::data
