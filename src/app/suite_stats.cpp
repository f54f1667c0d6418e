// `gtgm eval` over seeds: mean +- sd per (dataset, fraction, init), the paired difference
// pretrained - random with a bootstrap CI (infer/stats.h), report sections, report_stats.csv,
// report.json fields and per-seed plots (docs/eval.md, "Seeds").
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "gtgm/app/suite.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/io/png.h"

namespace gtgm::app {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::vector<std::pair<std::string, std::array<uint8_t, 3>>> kPlotColours = {
    {"blue", {{40, 90, 220}}}, {"orange", {{240, 140, 30}}}, {"green", {{40, 170, 70}}},
    {"red", {{220, 50, 50}}},  {"purple", {{150, 70, 200}}}, {"brown", {{140, 90, 50}}},
};

namespace {

constexpr double kSeedNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kPlotColumn = 70;  // pixels per init column
constexpr int kPlotMargin = 12;

bool seed_row_finished(const SuiteRow& r) {
  return (r.status == RowStatus::Done || r.status == RowStatus::Reused || r.status == RowStatus::Resumed) &&
         r.ours.has_value();
}

int seed_decimals(const std::string& metric) { return metric == "voi" || metric == "arand" ? 3 : 2; }

std::string seed_number(double v, const std::string& metric, bool sign = false) {
  if (!std::isfinite(v)) return "-";
  return sign ? fmt::format("{:+.{}f}", v, seed_decimals(metric)) : fmt::format("{:.{}f}", v, seed_decimals(metric));
}

std::string seed_fraction_label(const config::SuiteDataset& ds, size_t k) {
  return k < ds.fraction_labels.size() ? ds.fraction_labels[k] : fmt::format("{:g}%", ds.label_fractions[k] * 100);
}

const config::SuiteInit* random_init(const config::SuiteConfig& suite) {
  for (const auto& i : suite.inits)
    if (i.path.empty()) return &i;
  return nullptr;
}

std::string seed_csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string joined_numbers(const std::vector<double>& v) {
  std::vector<std::string> s;
  for (double x : v) s.push_back(fmt::format("{}", x));
  return fmt::format("{}", fmt::join(s, ";"));
}

// y range of a plot: the values' [min, max] widened by 5% each side (1 unit when all are equal).
std::pair<double, double> seed_plot_range(const std::vector<SeedSummary>& cells) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& c : cells)
    for (double v : c.values) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (!(lo <= hi)) return {0.0, 1.0};
  if (hi - lo < 1e-12) return {lo - 1, hi + 1};
  const double pad = 0.05 * (hi - lo);
  return {lo - pad, hi + pad};
}

// The cells of one (dataset, fraction), in init order.
std::vector<SeedSummary> cells_of(const std::vector<SeedSummary>& all, const std::string& ds, double f) {
  std::vector<SeedSummary> out;
  for (const auto& c : all)
    if (c.dataset == ds && c.fraction == f) out.push_back(c);
  return out;
}

void put_pixel(torch::TensorAccessor<uint8_t, 3>& img, int y, int x, const std::array<uint8_t, 3>& c) {
  if (y < 0 || x < 0 || y >= img.size(0) || x >= img.size(1)) return;
  for (int k = 0; k < 3; ++k) img[y][x][k] = c[static_cast<size_t>(k)];
}

void draw_line(torch::TensorAccessor<uint8_t, 3>& img, int y0, int x0, int y1, int x1,
               const std::array<uint8_t, 3>& c) {
  const int steps = std::max(std::abs(y1 - y0), std::abs(x1 - x0));
  for (int i = 0; i <= steps; ++i) {
    const double t = steps == 0 ? 0.0 : static_cast<double>(i) / steps;
    put_pixel(img, static_cast<int>(std::lround(y0 + t * (y1 - y0))), static_cast<int>(std::lround(x0 + t * (x1 - x0))),
              c);
  }
}

void draw_dot(torch::TensorAccessor<uint8_t, 3>& img, int y, int x, int radius, const std::array<uint8_t, 3>& c) {
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx)
      if (dy * dy + dx * dx <= radius * radius) put_pixel(img, y + dy, x + dx, c);
}

}  // namespace

std::vector<SeedSummary> summarize_seeds(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows) {
  std::vector<SeedSummary> out;
  for (const auto& ds : suite.datasets) {
    for (size_t k = 0; k < ds.label_fractions.size(); ++k) {
      for (const auto& init : suite.inits) {
        SeedSummary s;
        s.dataset = ds.name;
        s.metric = ds.metric;
        s.fraction = ds.label_fractions[k];
        s.fraction_label = seed_fraction_label(ds, k);
        s.init = init.name;
        for (const auto& r : rows) {
          if (r.dataset != ds.name || r.fraction != s.fraction || r.init != init.name) continue;
          ++s.runs;
          if (!seed_row_finished(r)) continue;
          s.seeds.push_back(r.seed);
          s.values.push_back(*r.ours);
        }
        if (s.runs == 0) continue;
        s.mean = s.values.empty() ? kSeedNaN : infer::mean(s.values);
        s.sd = infer::sample_sd(s.values);
        out.push_back(std::move(s));
      }
    }
  }
  return out;
}

std::vector<PairedRow> paired_rows(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows) {
  std::vector<PairedRow> out;
  const config::SuiteInit* base = random_init(suite);
  if (base == nullptr) return out;
  const auto cells = summarize_seeds(suite, rows);
  for (const auto& b : cells) {
    if (b.init != base->name) continue;
    for (const auto& a : cells) {
      if (a.dataset != b.dataset || a.fraction != b.fraction || a.init == base->name) continue;
      PairedRow p;
      p.dataset = a.dataset;
      p.metric = a.metric;
      p.fraction = a.fraction;
      p.fraction_label = a.fraction_label;
      p.init = a.init;
      p.baseline = b.init;
      std::vector<double> x, y;
      for (size_t i = 0; i < a.seeds.size(); ++i) {
        const auto it = std::find(b.seeds.begin(), b.seeds.end(), a.seeds[i]);
        if (it == b.seeds.end()) continue;
        p.seeds.push_back(a.seeds[i]);
        x.push_back(a.values[i]);
        y.push_back(b.values[static_cast<size_t>(it - b.seeds.begin())]);
      }
      if (x.empty()) {
        p.verdict = "n/a (no paired runs)";
      } else {
        p.cmp = infer::compare_paired(x, y, config::metric_lower_is_better(p.metric));
        p.verdict = !p.cmp.has_ci ? "n/a (1 seed)" : p.cmp.significant ? "significant" : "not significant";
      }
      out.push_back(std::move(p));
    }
  }
  return out;
}

std::string format_seed_sections(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows,
                                 const std::map<std::string, std::vector<std::string>>& plots) {
  std::ostringstream ss;
  ss << "## Over seeds\n\nOur metric (\"ours\", report units) per seed; mean and sample sd (n - 1) over the seeds "
        "whose run finished.\n\n| Dataset | Metric | Labels | Init | Runs | Mean | SD | Per seed |\n"
        "|---|---|---|---|---:|---:|---:|---|\n";
  for (const auto& c : summarize_seeds(suite, rows)) {
    std::vector<std::string> per;
    for (size_t i = 0; i < c.seeds.size(); ++i)
      per.push_back(fmt::format("s{} {}", c.seeds[i], seed_number(c.values[i], c.metric)));
    ss << fmt::format("| {} | {} | {} | {} | {}/{} | {} | {} | {} |\n", c.dataset, c.metric, c.fraction_label, c.init,
                      c.values.size(), c.runs, seed_number(c.mean, c.metric), seed_number(c.sd, c.metric),
                      fmt::join(per, ", "));
  }
  const auto paired = paired_rows(suite, rows);
  if (!paired.empty()) {
    ss << fmt::format(
        "\n## Pretrained vs random (paired by seed)\n\nΔ = pretrained − {} of our metric, per seed (both runs "
        "finished); for HD95, VOI and ARAND lower is better, so a negative Δ favours pretraining. 95% CI: percentile "
        "bootstrap of the mean Δ ({} resamples of the seeds' Δs with replacement, splitmix64 generator seeded {}; "
        "include/gtgm/infer/stats.h). Better: k of n seeds where pretrained beat random (ties count for neither). "
        "\"not significant\": the CI includes 0.\n\n"
        "| Dataset | Metric | Labels | Init | n | Mean Δ | SD Δ | 95% CI | Better | Verdict |\n"
        "|---|---|---|---|---:|---:|---:|---|---:|---|\n",
        paired.front().baseline, infer::kBootstrapResamples, infer::kBootstrapSeed);
    for (const auto& p : paired) {
      const bool any = p.cmp.n > 0;
      ss << fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", p.dataset, p.metric, p.fraction_label,
                        p.init, p.cmp.n, any ? seed_number(p.cmp.mean_diff, p.metric, true) : "-",
                        any ? seed_number(p.cmp.sd_diff, p.metric) : "-",
                        p.cmp.has_ci ? fmt::format("[{}, {}]", seed_number(p.cmp.ci.lo, p.metric, true),
                                                   seed_number(p.cmp.ci.hi, p.metric, true))
                                     : "n/a",
                        any ? fmt::format("{} of {}", p.cmp.better, p.cmp.n) : "-", p.verdict);
    }
  }
  if (!plots.empty()) {
    std::vector<std::string> colours;
    for (size_t i = 0; i < suite.inits.size(); ++i)
      colours.push_back(suite.inits[i].name + " " + kPlotColours[i % kPlotColours.size()].first);
    ss << fmt::format(
        "\n## Per-seed plots\n\nOne column per init ({}), one dot per seed, grey lines join a seed's runs, a black "
        "bar marks the mean. The y axis is linear from the bottom to the top value given under each plot.\n",
        fmt::join(colours, ", "));
    const auto cells = summarize_seeds(suite, rows);
    for (const auto& [ds, files] : plots) {
      ss << "\n### " << ds << "\n\n";
      for (const auto& f : files) {
        // plots/<dataset>-f<fraction>.png: find its cells again for the axis range.
        const std::string stem = fs::path(f).stem().string();
        const double frac = std::stod(stem.substr(stem.rfind("-f") + 2));
        const auto [lo, hi] = seed_plot_range(cells_of(cells, ds, frac));
        const std::string metric = cells_of(cells, ds, frac).empty() ? "" : cells_of(cells, ds, frac).front().metric;
        ss << fmt::format("![{}]({})\n\n{} label fraction {:g}: y from {} (bottom) to {} (top)\n\n", stem, f, ds, frac,
                          seed_number(lo, metric), seed_number(hi, metric));
      }
    }
  }
  return ss.str();
}

std::string format_stats_csv(const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows) {
  std::ostringstream ss;
  ss << "kind,dataset,metric,label_fraction,init,baseline,n,mean,sd,ci_lo,ci_hi,better,verdict,seeds,values\n";
  auto num = [](double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); };
  for (const auto& c : summarize_seeds(suite, rows)) {
    ss << "seeds," << seed_csv_field(c.dataset) << ',' << c.metric << ',' << fmt::format("{:g}", c.fraction) << ','
       << seed_csv_field(c.init) << ",," << c.values.size() << ',' << num(c.mean) << ',' << num(c.sd) << ",,,,,"
       << fmt::format("{}", fmt::join(c.seeds, ";")) << ',' << joined_numbers(c.values) << '\n';
  }
  for (const auto& p : paired_rows(suite, rows)) {
    std::vector<double> diffs;
    const auto cells = summarize_seeds(suite, rows);
    for (int64_t s : p.seeds) {
      double a = kSeedNaN, b = kSeedNaN;
      for (const auto& c : cells) {
        if (c.dataset != p.dataset || c.fraction != p.fraction) continue;
        for (size_t i = 0; i < c.seeds.size(); ++i) {
          if (c.seeds[i] != s) continue;
          if (c.init == p.init) a = c.values[i];
          if (c.init == p.baseline) b = c.values[i];
        }
      }
      diffs.push_back(a - b);
    }
    const bool any = p.cmp.n > 0;
    ss << "paired," << seed_csv_field(p.dataset) << ',' << p.metric << ',' << fmt::format("{:g}", p.fraction) << ','
       << seed_csv_field(p.init) << ',' << seed_csv_field(p.baseline) << ',' << p.cmp.n << ','
       << (any ? num(p.cmp.mean_diff) : "") << ',' << (any ? num(p.cmp.sd_diff) : "") << ','
       << (p.cmp.has_ci ? num(p.cmp.ci.lo) : "") << ',' << (p.cmp.has_ci ? num(p.cmp.ci.hi) : "") << ','
       << (any ? std::to_string(p.cmp.better) : "") << ',' << p.verdict << ','
       << fmt::format("{}", fmt::join(p.seeds, ";")) << ',' << joined_numbers(diffs) << '\n';
  }
  return ss.str();
}

void add_seed_statistics(json& report, const config::SuiteConfig& suite, const std::vector<SuiteRow>& rows,
                         const std::map<std::string, std::vector<std::string>>& plots) {
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json cells = json::array();
  for (const auto& c : summarize_seeds(suite, rows))
    cells.push_back({{"dataset", c.dataset},
                     {"metric", c.metric},
                     {"label_fraction", c.fraction},
                     {"labels", c.fraction_label},
                     {"init", c.init},
                     {"runs", c.runs},
                     {"seeds", c.seeds},
                     {"values", c.values},
                     {"mean", num(c.mean)},
                     {"sd", num(c.sd)}});
  json paired = json::array();
  for (const auto& p : paired_rows(suite, rows)) {
    const bool any = p.cmp.n > 0;
    paired.push_back({{"dataset", p.dataset},
                      {"metric", p.metric},
                      {"label_fraction", p.fraction},
                      {"labels", p.fraction_label},
                      {"init", p.init},
                      {"baseline", p.baseline},
                      {"seeds", p.seeds},
                      {"n", p.cmp.n},
                      {"mean_diff", any ? num(p.cmp.mean_diff) : json(nullptr)},
                      {"sd_diff", any ? num(p.cmp.sd_diff) : json(nullptr)},
                      {"ci", p.cmp.has_ci ? json::array({p.cmp.ci.lo, p.cmp.ci.hi}) : json(nullptr)},
                      {"better", any ? json(p.cmp.better) : json(nullptr)},
                      {"lower_is_better", config::metric_lower_is_better(p.metric)},
                      {"verdict", p.verdict}});
  }
  report["seed_summary"] = cells;
  report["paired"] = paired;
  report["bootstrap"] = {{"method", "percentile"},
                         {"level", infer::kBootstrapLevel},
                         {"resamples", infer::kBootstrapResamples},
                         {"seed", infer::kBootstrapSeed},
                         {"generator", "splitmix64, index = value % n"}};
  report["plots"] = plots;
}

torch::Tensor render_seed_plot(const std::vector<SeedSummary>& cells, double lo, double hi, int height) {
  GTGM_CHECK(!cells.empty(), "seed plot: no inits to draw");
  GTGM_CHECK(hi > lo, "seed plot: y range [{}, {}] is empty", lo, hi);
  GTGM_CHECK(height >= 40, "seed plot: height {} (expected >= 40)", height);
  const int width = 2 * kPlotMargin + kPlotColumn * static_cast<int>(cells.size());
  auto image = torch::full({height, width, 3}, 255, torch::kUInt8);
  auto img = image.accessor<uint8_t, 3>();
  const std::array<uint8_t, 3> frame = {{0, 0, 0}}, grid = {{225, 225, 225}}, pair = {{170, 170, 170}};
  const int top = kPlotMargin, bottom = height - 1 - kPlotMargin;
  auto y_of = [&](double v) { return static_cast<int>(std::lround(bottom - (v - lo) / (hi - lo) * (bottom - top))); };
  for (int q = 1; q < 4; ++q)
    draw_line(img, top + q * (bottom - top) / 4, 1, top + q * (bottom - top) / 4, width - 2, grid);
  draw_line(img, top, 0, bottom, 0, frame);
  draw_line(img, bottom, 0, bottom, width - 1, frame);
  auto x_of = [&](size_t column) { return kPlotMargin + kPlotColumn * static_cast<int>(column) + kPlotColumn / 2; };
  // Grey lines join the same seed in neighbouring columns.
  for (size_t c = 0; c + 1 < cells.size(); ++c) {
    for (size_t i = 0; i < cells[c].seeds.size(); ++i) {
      const auto& next = cells[c + 1];
      const auto it = std::find(next.seeds.begin(), next.seeds.end(), cells[c].seeds[i]);
      if (it == next.seeds.end()) continue;
      draw_line(img, y_of(cells[c].values[i]), x_of(c), y_of(next.values[static_cast<size_t>(it - next.seeds.begin())]),
                x_of(c + 1), pair);
    }
  }
  for (size_t c = 0; c < cells.size(); ++c) {
    const auto& colour = kPlotColours[c % kPlotColours.size()].second;
    for (double v : cells[c].values) draw_dot(img, y_of(v), x_of(c), 4, colour);
    if (!cells[c].values.empty()) {
      const int y = y_of(infer::mean(cells[c].values));
      for (int t = -1; t <= 1; ++t) draw_line(img, y + t, x_of(c) - 14, y + t, x_of(c) + 14, frame);
    }
  }
  return image;
}

std::map<std::string, std::vector<std::string>> write_seed_plots(const config::SuiteConfig& suite,
                                                                 const std::vector<SuiteRow>& rows) {
  std::map<std::string, std::vector<std::string>> out;
  const auto cells = summarize_seeds(suite, rows);
  for (const auto& ds : suite.datasets) {
    for (double f : ds.label_fractions) {
      const auto mine = cells_of(cells, ds.name, f);
      const bool any = std::any_of(mine.begin(), mine.end(), [](const SeedSummary& c) { return !c.values.empty(); });
      if (!any) continue;
      const auto [lo, hi] = seed_plot_range(mine);
      const fs::path rel = fs::path("plots") / fmt::format("{}-f{:g}.png", ds.name, f);
      const fs::path file = fs::path(suite.output_dir) / rel;
      fs::create_directories(file.parent_path());
      core::atomic_write_text(file, io::encode_png(render_seed_plot(mine, lo, hi)));
      out[ds.name].push_back(rel.generic_string());
    }
  }
  return out;
}

}  // namespace gtgm::app
