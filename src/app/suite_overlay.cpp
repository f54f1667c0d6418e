// Overlay PNGs of the eval suite: image | image + prediction | image + reference.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "gtgm/app/suite.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/data/manifest.h"
#include "gtgm/io/png.h"
#include "gtgm/io/slice_render.h"
#include "gtgm/io/volume_io.h"

namespace gtgm::app {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace {

constexpr int kGap = 4;

// Class colours for small label values; instance ids (EM) get a colour hashed from the id.
torch::Tensor colour_table(const torch::Tensor& labels) {
  static const uint8_t base[][3] = {{0, 0, 0},      {230, 60, 60},  {60, 200, 80},  {70, 120, 240},
                                    {240, 200, 40}, {200, 80, 220}, {40, 210, 210}, {250, 140, 40}};
  const auto flat = labels.to(torch::kLong).flatten();
  auto out = torch::empty({flat.numel(), 3}, torch::kFloat);
  auto acc = flat.accessor<int64_t, 1>();
  auto o = out.accessor<float, 2>();
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const int64_t v = acc[i];
    if (v >= 0 && v < 8) {
      for (int c = 0; c < 3; ++c) o[i][c] = base[v][c];
    } else {
      uint64_t h = static_cast<uint64_t>(v) * 0x9E3779B97F4A7C15ull;
      h ^= h >> 29;
      for (int c = 0; c < 3; ++c) o[i][c] = static_cast<float>(60 + ((h >> (8 * c)) & 0xFF) % 190);
    }
  }
  return out.view({labels.size(0), labels.size(1), 3});
}

// Label slice [h, w] -> [size, size] as render_slice lays out the image (padded at the end to a
// square, then resized), nearest neighbour so classes stay classes.
torch::Tensor resize_labels(const torch::Tensor& slice, int size) {
  auto l = slice.to(torch::kFloat);
  const int64_t side = std::max(l.size(0), l.size(1));
  if (l.size(0) != l.size(1)) l = torch::constant_pad_nd(l, {0, side - l.size(1), 0, side - l.size(0)}, 0.0);
  l = F::interpolate(l.unsqueeze(0).unsqueeze(0),
                     F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kNearest));
  return l.squeeze(0).squeeze(0).to(torch::kLong);
}

// Gray image [S, S] uint8 with labels [S, S]: colour fill at 35% inside, solid on class borders.
torch::Tensor blend_labels(const torch::Tensor& gray, const torch::Tensor& labels) {
  auto rgb = gray.to(torch::kFloat).unsqueeze(-1).expand({-1, -1, 3}).clone();
  const auto colours = colour_table(labels);
  const auto fg = (labels != 0).unsqueeze(-1);
  auto border = torch::zeros_like(labels, torch::kBool);
  using torch::indexing::Slice;
  // A pixel is on a border when a 4-neighbour has another label.
  border.index({Slice(1), Slice()}) |= labels.index({Slice(1), Slice()}) != labels.index({Slice(0, -1), Slice()});
  border.index({Slice(0, -1), Slice()}) |= labels.index({Slice(0, -1), Slice()}) != labels.index({Slice(1), Slice()});
  border.index({Slice(), Slice(1)}) |= labels.index({Slice(), Slice(1)}) != labels.index({Slice(), Slice(0, -1)});
  border.index({Slice(), Slice(0, -1)}) |= labels.index({Slice(), Slice(0, -1)}) != labels.index({Slice(), Slice(1)});
  const auto edge = (border & (labels != 0)).unsqueeze(-1);
  rgb = torch::where(fg, 0.65 * rgb + 0.35 * colours, rgb);
  rgb = torch::where(edge, colours, rgb);
  return rgb.round().clamp(0, 255).to(torch::kUInt8);
}

// Middle of the reference foreground along z (the volume's middle when it has none).
int64_t mid_slice(const torch::Tensor& ref) {
  const auto per_z = (ref != 0).flatten(1).sum(1).nonzero();
  if (per_z.numel() == 0) return ref.size(0) / 2;
  return (per_z.min().item<int64_t>() + per_z.max().item<int64_t>()) / 2;
}

}  // namespace

torch::Tensor render_overlay(const torch::Tensor& image, const torch::Tensor& pred, const torch::Tensor& ref, int64_t z,
                             int size) {
  GTGM_CHECK(image.dim() == 3 && pred.sizes() == image.sizes() && ref.sizes() == image.sizes(),
             "overlay: image {}, prediction {} and reference {} must be [D, H, W] of one shape", image.sizes(),
             pred.sizes(), ref.sizes());
  GTGM_CHECK(z >= 0 && z < image.size(0), "overlay: slice {} outside depth {}", z, image.size(0));
  GTGM_CHECK(size >= 8, "overlay: panel size {} (expected >= 8)", size);
  io::RenderOptions ro;
  ro.size = size;
  ro.patch = 0;
  ro.window = config::CaptionWindow::Auto;
  const auto window = io::window_range(image, ro);
  const int64_t h = image.size(1), w = image.size(2);
  const auto gray = io::render_slice(image, {z, h / 2, w / 2}, ro, window);  // [S, S]
  const auto plain = gray.unsqueeze(-1).expand({-1, -1, 3});
  const auto with_pred = blend_labels(gray, resize_labels(pred.select(0, z), size));
  const auto with_ref = blend_labels(gray, resize_labels(ref.select(0, z), size));
  const auto gap = torch::full({size, kGap, 3}, 255, torch::kUInt8);
  return torch::cat({plain, gap, with_pred, gap, with_ref}, 1).contiguous();
}

std::vector<fs::path> write_overlays(const config::Config& cfg, const fs::path& summary_json, const fs::path& out_dir,
                                     const std::string& prefix, const OverlayOptions& options) {
  std::vector<fs::path> written;
  if (options.max_cases <= 0) return written;
  nlohmann::json summary;
  try {
    summary = nlohmann::json::parse(core::read_text_file(summary_json));
  } catch (const nlohmann::json::exception& e) {
    GTGM_THROW("{}: not valid JSON ({})", summary_json.string(), e.what());
  }
  GTGM_CHECK(summary.contains("cases") && summary["cases"].is_array(),
             "{}: no \"cases\" list (not a gtgm score summary)", summary_json.string());
  const data::Manifest manifest = data::load_manifest(cfg.data);
  fs::create_directories(out_dir);
  for (const auto& c : summary["cases"]) {
    if (static_cast<int>(written.size()) >= options.max_cases) break;
    const std::string id = c.value("case", "");
    const auto entry = std::find_if(manifest.training.begin(), manifest.training.end(),
                                    [&](const data::CaseEntry& e) { return e.id == id; });
    if (entry == manifest.training.end() || entry->images.empty()) {
      GTGM_WARN("overlay: case '{}' of {} is not in the dataset at {}; skipped", id, summary_json.string(),
                cfg.data.root);
      continue;
    }
    auto image = io::read_volume(entry->images.front()).data[0];  // channel 0
    const auto pred = io::read_volume(c.value("pred", "")).data[0];
    const auto ref = io::read_volume(c.value("ref", "")).data[0];
    if (pred.sizes() != ref.sizes()) {
      GTGM_WARN("overlay: case '{}': prediction {} and reference {} differ in shape; skipped", id, pred.sizes(),
                ref.sizes());
      continue;
    }
    if (image.sizes() != pred.sizes() && cfg.data.format == config::DataFormat::CREMI &&
        image.size(1) == pred.size(1) && image.size(2) == pred.size(2) && image.size(0) > pred.size(0)) {
      // CREMI: the test part is the volume's last slices (finetune.em_train_z).
      image = image.slice(0, image.size(0) - pred.size(0));
    }
    if (image.sizes() != pred.sizes()) {
      GTGM_WARN("overlay: case '{}': image {} and prediction {} differ in shape; skipped", id, image.sizes(),
                pred.sizes());
      continue;
    }
    const auto strip = render_overlay(image, pred, ref, mid_slice(ref), options.size);
    const fs::path file = out_dir / (prefix + id + ".png");
    core::atomic_write_text(file, io::encode_png(strip));
    written.push_back(file);
  }
  return written;
}

}  // namespace gtgm::app
