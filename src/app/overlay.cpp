#include "gtgm/app/overlay.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "gtgm/core/error.h"
#include "gtgm/data/spatial.h"
#include "gtgm/io/slice_render.h"

namespace gtgm::app {

namespace F = torch::nn::functional;

namespace {

constexpr int kGap = 4;            // pixels between panels
constexpr size_t kMaxLegend = 16;  // more declared classes: list those in the slice
constexpr io::Rgb kBackground{24, 24, 24};
constexpr io::Rgb kText{235, 235, 235};
constexpr io::Rgb kDim{170, 170, 170};

// The largest-foreground slice along D of labels [D, H, W]; -1 when all are background.
int64_t busiest_slice(const torch::Tensor& labels) {
  const auto counts = (labels != 0).flatten(1).sum(1).contiguous();
  const auto acc = counts.accessor<int64_t, 1>();
  int64_t best = -1, best_count = 0;
  for (int64_t z = 0; z < counts.size(0); ++z) {
    if (acc[z] > best_count) {
      best_count = acc[z];
      best = z;
    }
  }
  return best;
}

torch::Tensor resize2d(const torch::Tensor& slice, int64_t h, int64_t w, bool nearest) {
  auto opts = F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w});
  if (nearest) {
    opts.mode(torch::kNearest);
  } else {
    opts.mode(torch::kBilinear).align_corners(false);
  }
  return F::interpolate(slice.to(torch::kFloat).unsqueeze(0).unsqueeze(0), opts).squeeze(0).squeeze(0);
}

// Gray [S, S] uint8 with labels [S, S]: colour fill at 35% inside, solid on class borders.
torch::Tensor blend_labels(const torch::Tensor& gray, const torch::Tensor& labels) {
  using torch::indexing::Slice;
  auto rgb = gray.to(torch::kFloat).unsqueeze(-1).expand({-1, -1, 3}).clone();
  const auto flat = labels.flatten().contiguous();
  auto colours = torch::empty({flat.numel(), 3}, torch::kFloat);
  const auto l = flat.accessor<int64_t, 1>();
  auto o = colours.accessor<float, 2>();
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const io::Rgb c = label_colour(l[i]);
    for (int ch = 0; ch < 3; ++ch) o[i][ch] = c[ch];
  }
  colours = colours.view({labels.size(0), labels.size(1), 3});
  auto border = torch::zeros_like(labels, torch::kBool);
  // A pixel is on a border when a 4-neighbour has another label.
  border.index({Slice(1), Slice()}) |= labels.index({Slice(1), Slice()}) != labels.index({Slice(0, -1), Slice()});
  border.index({Slice(0, -1), Slice()}) |= labels.index({Slice(0, -1), Slice()}) != labels.index({Slice(1), Slice()});
  border.index({Slice(), Slice(1)}) |= labels.index({Slice(), Slice(1)}) != labels.index({Slice(), Slice(0, -1)});
  border.index({Slice(), Slice(0, -1)}) |= labels.index({Slice(), Slice(0, -1)}) != labels.index({Slice(), Slice(1)});
  const auto fg = (labels != 0).unsqueeze(-1);
  const auto edge = (border & (labels != 0)).unsqueeze(-1);
  rgb = torch::where(fg, 0.65 * rgb + 0.35 * colours, rgb);
  rgb = torch::where(edge, colours, rgb);
  return rgb.round().clamp(0, 255).to(torch::kUInt8);
}

// A text item of a flowed line: optional colour swatch before the text.
struct Item {
  std::string text;
  std::optional<io::Rgb> swatch;
};

int item_width(const Item& it, int scale) {
  return (it.swatch ? io::text_height(scale) + 2 * scale : 0) + io::text_width(it.text, scale);
}

// Items packed into rows no wider than `width` (an item wider than a row gets a row of its own).
std::vector<std::vector<Item>> flow(const std::vector<Item>& items, int width, int scale) {
  std::vector<std::vector<Item>> rows;
  const int sep = 2 * io::kCellWidth * scale;
  int used = 0;
  for (const Item& it : items) {
    const int w = item_width(it, scale);
    if (rows.empty() || (used > 0 && used + sep + w > width)) {
      rows.emplace_back();
      used = 0;
    }
    used += (used > 0 ? sep : 0) + w;
    rows.back().push_back(it);
  }
  return rows;
}

std::string percent(double v) { return std::isfinite(v) ? fmt::format("{:.1f}%", 100.0 * v) : "n/a"; }

std::string class_name(const OverlayStyle& style, int64_t v) {
  const auto it = style.class_names.find(v);
  return it != style.class_names.end() ? it->second : fmt::format("class {}", v);
}

}  // namespace

io::Rgb label_colour(int64_t v) {
  static const io::Rgb base[] = {{0, 0, 0},      {230, 60, 60},  {60, 200, 80},  {70, 120, 240},
                                 {240, 200, 40}, {200, 80, 220}, {40, 210, 210}, {250, 140, 40}};
  if (v >= 0 && v < 8) return base[v];
  uint64_t h = static_cast<uint64_t>(v) * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  io::Rgb c{};
  for (int ch = 0; ch < 3; ++ch) c[ch] = static_cast<uint8_t>(60 + ((h >> (8 * ch)) & 0xFF) % 190);
  return c;
}

OverlayImage render_overlay(const OverlayCase& c, const OverlayStyle& style) {
  GTGM_CHECK(style.size >= 8, "overlay: panel size {} (expected >= 8)", style.size);
  GTGM_CHECK(c.image.data.defined() && c.image.data.dim() == 4, "overlay: case '{}': image must be [C, D, H, W]", c.id);
  const auto same_grid = [&](const io::Volume& v, const char* what) {
    GTGM_CHECK(v.data.dim() == 4 && v.data.size(0) == 1 && v.shape() == c.image.shape(),
               "overlay: case '{}': {} {} must be one channel on the image's grid [1, {}, {}, {}]", c.id, what,
               v.data.sizes(), c.image.data.size(1), c.image.data.size(2), c.image.data.size(3));
  };
  same_grid(c.prediction, "prediction");
  if (c.reference) same_grid(*c.reference, "reference");

  // Display orientation: LPS (identity direction), so an axial slice [H, W] has anterior up and
  // the patient's right on the left of the screen, as radiologists read it.
  const data::Reorientation r = style.patient_space
                                    ? data::canonical_reorientation(c.image.geometry, config::Orientation::LPS)
                                    : data::Reorientation{};
  data::IndexTransform to_file;
  const io::Volume image = data::reorient(c.image, r, &to_file);
  const torch::Tensor pred = data::reorient(c.prediction, r).data[0].to(torch::kLong);
  const torch::Tensor ref = c.reference ? data::reorient(*c.reference, r).data[0].to(torch::kLong) : torch::Tensor();

  OverlayImage out;
  int64_t z = ref.defined() ? busiest_slice(ref) : -1;
  if (z < 0) z = busiest_slice(pred);
  if (z < 0) z = image.data.size(1) / 2;
  out.display_z = z;
  const int file_axis = r.perm[0];
  out.file_index = std::llround(to_file.apply({static_cast<double>(z), 0.0, 0.0})[static_cast<size_t>(file_axis)]);
  const bool axial = style.patient_space && std::abs(image.geometry.dir(2, 2)) >= 0.866;  // within 30 degrees of z
  const std::string kind = !style.patient_space ? "slice" : axial ? "axial" : "oblique slice";
  out.slice_label = file_axis == 0
                        ? fmt::format("{} z={}", kind, out.file_index)
                        : fmt::format("{} z={} (file {}={})", kind, z, file_axis == 1 ? "j" : "i", out.file_index);

  // The slice, windowed over the whole volume and scaled to the panel with its physical aspect.
  const int S = style.size;
  const int64_t h = image.data.size(2), w = image.data.size(3);
  const auto sp = style.patient_space ? image.geometry.spacing_dhw() : std::array<double, 3>{1, 1, 1};
  const double ph = static_cast<double>(h) * sp[1], pw = static_cast<double>(w) * sp[2];
  const double k = S / std::max(ph, pw);
  const int64_t oh = std::clamp<int64_t>(std::llround(ph * k), 1, S),
                ow = std::clamp<int64_t>(std::llround(pw * k), 1, S);
  out.content = {static_cast<int>((S - ow) / 2), static_cast<int>((S - oh) / 2), static_cast<int>(ow),
                 static_cast<int>(oh)};
  io::RenderOptions ro;
  ro.window = config::CaptionWindow::Auto;
  const auto [lo, hi] = io::window_range(image.data[0], ro);
  const auto img2d = image.data[0].select(0, z).to(torch::kFloat);
  const auto gray_small = ((resize2d(img2d, oh, ow, false) - lo) * (255.0 / std::max(hi - lo, 1e-6))).clamp(0, 255);
  using torch::indexing::Slice;
  const auto place = [&](const torch::Tensor& small, torch::ScalarType type) {
    auto canvas = torch::zeros({S, S}, type);
    canvas.index_put_({Slice(out.content.y, out.content.y + oh), Slice(out.content.x, out.content.x + ow)},
                      small.to(type));
    return canvas;
  };
  const auto gray = place(gray_small.round(), torch::kUInt8);
  std::vector<torch::Tensor> panels = {
      gray.unsqueeze(-1).expand({-1, -1, 3}).contiguous(),
      blend_labels(gray, place(resize2d(pred.select(0, z), oh, ow, true), torch::kLong))};
  std::vector<std::string> titles = {"image", "prediction"};
  if (ref.defined()) {
    panels.push_back(blend_labels(gray, place(resize2d(ref.select(0, z), oh, ow, true), torch::kLong)));
    titles.push_back("reference");
  }

  // Text: title rows, panel names, the panels, Dice and legend rows.
  const int s = style.text_scale > 0 ? style.text_scale : std::max(1, S / 128);
  const int n = static_cast<int>(panels.size());
  const int width = n * S + (n - 1) * kGap;
  const int margin = 3 * s, line = (io::kCellHeight + 1) * s;
  const auto title_rows = flow({{c.id, std::nullopt}, {out.slice_label, std::nullopt}}, width - 2 * margin, s);

  std::vector<Item> footer;
  if (c.dice) {
    footer.push_back({"Dice: foreground mean " + percent(c.dice->mean), std::nullopt});
    for (const auto& [label, v] : c.dice->classes)
      if (label != 0) footer.push_back({class_name(style, label) + " " + percent(v), std::nullopt});
  }
  std::set<int64_t> in_slice;
  for (const torch::Tensor& t : {pred, ref}) {
    if (!t.defined()) continue;
    const auto values = t.select(0, z).flatten().contiguous();
    const int64_t* v = values.data_ptr<int64_t>();
    for (int64_t i = 0; i < values.numel(); ++i)
      if (v[i] != 0) in_slice.insert(v[i]);
  }
  std::vector<int64_t> declared;
  for (const auto& [v, name] : style.class_names)
    if (v != 0) declared.push_back(v);
  const bool all_declared = !declared.empty() && declared.size() <= kMaxLegend;
  const std::vector<int64_t> shown = all_declared ? declared : std::vector<int64_t>(in_slice.begin(), in_slice.end());
  if (shown.size() <= std::max(kMaxLegend, declared.size())) {
    for (int64_t v : shown) out.legend.emplace_back(v, class_name(style, v));
  }
  std::vector<Item> legend_items;
  for (const auto& [v, name] : out.legend) legend_items.push_back({name, label_colour(v)});
  const auto dice_rows = flow(footer, width - 2 * margin, s);
  const auto legend_rows = flow(legend_items, width - 2 * margin, s);

  const int panels_y = margin + static_cast<int>(title_rows.size()) * line + line;
  const int height = panels_y + S + margin + static_cast<int>(dice_rows.size() + legend_rows.size()) * line + margin;
  out.rgb = torch::empty({height, width, 3}, torch::kUInt8);
  io::fill_rect(out.rgb, 0, 0, width, height, kBackground);
  int y = margin;
  const auto draw_rows = [&](const std::vector<std::vector<Item>>& rows, const io::Rgb& colour) {
    for (const auto& row : rows) {
      int x = margin;
      for (const Item& it : row) {
        if (it.swatch) {
          io::fill_rect(out.rgb, x, y, io::text_height(s), io::text_height(s), *it.swatch);
          x += io::text_height(s) + 2 * s;
        }
        x = io::draw_text(out.rgb, x, y, it.text, colour, s) + (2 * io::kCellWidth - 1) * s;
        out.lines.push_back(it.text);
      }
      y += line;
    }
  };
  draw_rows(title_rows, kText);
  for (int i = 0; i < n; ++i) {
    const int px = i * (S + kGap);
    const size_t fits = static_cast<size_t>(std::max(0, (S + s) / (io::kCellWidth * s)));
    io::draw_text(out.rgb, px + margin, y, titles[i].substr(0, fits), kDim, s);
    out.lines.push_back(titles[i]);
    out.rgb.index_put_({Slice(panels_y, panels_y + S), Slice(px, px + S)}, panels[i]);
    out.panels.push_back({px, panels_y, S, S});
  }
  y = panels_y + S + margin;
  draw_rows(dice_rows, kText);
  draw_rows(legend_rows, kText);
  return out;
}

}  // namespace gtgm::app
