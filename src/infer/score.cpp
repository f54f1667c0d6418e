#include "gtgm/infer/score.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/infer/instance_metrics.h"
#include "gtgm/infer/metrics.h"
#include "gtgm/io/checks.h"
#include "gtgm/io/hdf5_io.h"
#include "gtgm/io/volume_io.h"

namespace gtgm::infer {

namespace fs = std::filesystem;

namespace {

constexpr const char* kNeuronIds = "volumes/labels/neuron_ids";

bool is_class_metric(const std::string& m) { return m == "dice" || m == "hd95" || m == "nsd"; }

// Checks options.metrics (ConfigError for none or an unknown one) and returns its per-class metrics.
std::vector<std::string> class_metrics_of(const ScoreOptions& options) {
  const auto& valid = score_metric_names();
  if (options.metrics.empty()) throw ConfigError("score: no metrics requested (valid: dice, hd95, nsd, voi, arand)");
  std::vector<std::string> seg_metrics;
  for (const auto& m : options.metrics) {
    if (std::find(valid.begin(), valid.end(), m) == valid.end())
      throw ConfigError(fmt::format("score: unknown metric '{}' (valid: dice, hd95, nsd, voi, arand)", m));
    if (is_class_metric(m)) seg_metrics.push_back(m);
  }
  return seg_metrics;
}

// The file part of a path that may carry an HDF5 dataset suffix ("x.h5:volumes/raw").
fs::path file_part(const fs::path& p) {
  auto h5 = io::split_hdf5_path(p.string());
  return h5 ? h5->first : p;
}

std::string join_ids(const std::vector<std::string>& ids) {
  std::string s;
  const size_t shown = std::min<size_t>(ids.size(), 10);
  for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + ids[i];
  if (ids.size() > shown) s += fmt::format(", ... ({} more)", ids.size() - shown);
  return s;
}

std::map<std::string, fs::path> list_cases(const fs::path& dir, const char* role) {
  std::map<std::string, fs::path> cases;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file() || !io::has_volume_extension(entry.path())) continue;
    const std::string id = io::strip_volume_extension(entry.path());
    auto [it, inserted] = cases.emplace(id, entry.path());
    GTGM_CHECK(inserted, "score: {} folder {} holds two files for case '{}': {} and {}", role, dir.string(), id,
               it->second.filename().string(), entry.path().filename().string());
  }
  GTGM_CHECK(!cases.empty(),
             "score: {} folder {} holds no volume files (.nii.gz, .nii, .nrrd, .mha, .mhd, .tif, .h5, ...)", role,
             dir.string());
  return cases;
}

// Reads a label volume [D, H, W] int64. HDF5 files named without a dataset use the CREMI neuron ids
// when the file has them.
io::Volume read_labels(const fs::path& path, const std::string& case_id, const char* role) {
  std::string p = path.string();
  if (auto h5 = io::split_hdf5_path(p); h5 && h5->second.empty()) {
    const auto datasets = io::list_hdf5_datasets(h5->first);
    if (std::find(datasets.begin(), datasets.end(), kNeuronIds) != datasets.end()) p += std::string(":") + kNeuronIds;
  }
  io::ReadOptions ro;
  ro.require_3d = true;
  io::Volume v = io::read_volume(p, ro);
  if (v.data.is_floating_point()) {
    GTGM_CHECK(v.data.eq(v.data.round()).all().item<bool>(),
               "score: case '{}': {} {} holds non-integer values; expected a label map", case_id, role, p);
  }
  v.data = v.data.to(torch::kInt64);
  return v;
}

std::vector<int64_t> nonzero_values(const torch::Tensor& labels) {
  torch::Tensor u = std::get<0>(torch::_unique(labels.flatten(), /*sorted=*/true));
  std::vector<int64_t> out;
  for (int64_t i = 0; i < u.size(0); ++i)
    if (u[i].item<int64_t>() != 0) out.push_back(u[i].item<int64_t>());
  return out;
}

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

std::string cell(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.4f}", v); }

}  // namespace

const std::vector<std::string>& score_metric_names() {
  static const std::vector<std::string> names = {"dice", "hd95", "nsd", "voi", "arand"};
  return names;
}

std::vector<CasePair> match_cases(const fs::path& pred, const fs::path& ref) {
  GTGM_CHECK(fs::exists(file_part(pred)), "score: prediction path {} does not exist", pred.string());
  GTGM_CHECK(fs::exists(file_part(ref)), "score: reference path {} does not exist", ref.string());
  const bool pred_dir = fs::is_directory(pred), ref_dir = fs::is_directory(ref);
  GTGM_CHECK(pred_dir == ref_dir, "score: --pred {} is a {} but --ref {} is a {}; give two files or two folders",
             pred.string(), pred_dir ? "folder" : "file", ref.string(), ref_dir ? "folder" : "file");
  if (!pred_dir) return {{io::strip_volume_extension(file_part(pred)), pred, ref}};
  const auto preds = list_cases(pred, "prediction");
  const auto refs = list_cases(ref, "reference");
  std::vector<std::string> no_pred, no_ref;
  for (const auto& [id, p] : refs)
    if (!preds.count(id)) no_pred.push_back(id);
  for (const auto& [id, p] : preds)
    if (!refs.count(id)) no_ref.push_back(id);
  GTGM_CHECK(no_pred.empty(), "score: no prediction in {} for {} reference case(s) of {}: {}", pred.string(),
             no_pred.size(), ref.string(), join_ids(no_pred));
  GTGM_CHECK(no_ref.empty(), "score: no reference in {} for {} predicted case(s) of {}: {}", ref.string(),
             no_ref.size(), pred.string(), join_ids(no_ref));
  std::vector<CasePair> out;
  for (const auto& [id, p] : refs) out.push_back({id, preds.at(id), p});
  return out;
}

ScoreSummary run_score(const ScoreOptions& options) {
  class_metrics_of(options);  // a bad --metrics fails before any file is matched or read
  if (!options.output.empty()) core::check_file_target(options.output, "score -o (summary.json path)");
  return score_pairs(match_cases(options.pred, options.ref), options);
}

ScoreSummary score_pairs(const std::vector<CasePair>& pairs, const ScoreOptions& options) {
  const std::vector<std::string> seg_metrics = class_metrics_of(options);
  const bool class_metrics = !seg_metrics.empty();
  GTGM_CHECK(!pairs.empty(), "score: no cases to score");
  ScoreSummary summary;
  summary.pred = options.pred.string();
  summary.ref = options.ref.string();
  summary.nsd_tolerance = options.nsd_tolerance;
  summary.both_empty_as_perfect = options.both_empty_as_perfect;
  summary.metrics = options.metrics;
  std::set<int64_t> ref_values;  // labels seen in the references (when --labels is not given)
  for (const auto& pair : pairs) {
    GTGM_INFO("score: case {}", pair.id);
    io::Volume pred = read_labels(pair.pred, pair.id, "prediction");
    io::Volume ref = read_labels(pair.ref, pair.id, "reference");
    const std::string diff = io::geometry_mismatch(pred, ref);
    GTGM_CHECK(diff.empty(),
               "score: case '{}': prediction {} and reference {} differ in geometry: {}. Write predictions "
               "on the reference grid (same shape, spacing, origin and direction).",
               pair.id, pair.pred.string(), pair.ref.string(), diff);
    torch::Tensor p = pred.data[0], r = ref.data[0];
    CaseScore cs;
    cs.files = pair;
    if (class_metrics) {
      SegmentationMetricOptions so;
      so.metrics = seg_metrics;
      so.spacing_dhw = ref.geometry.spacing_dhw();
      so.nsd_tolerance = options.nsd_tolerance;
      so.both_empty_as_perfect = options.both_empty_as_perfect;
      so.labels = options.labels;
      if (so.labels.empty()) {
        // Labels absent from both volumes of this case are "both empty"; filled in below.
        std::set<int64_t> here;
        for (int64_t v : nonzero_values(r)) {
          here.insert(v);
          ref_values.insert(v);
        }
        for (int64_t v : nonzero_values(p)) here.insert(v);
        so.labels.assign(here.begin(), here.end());
      }
      if (!so.labels.empty()) cs.classes = score_segmentation(p, r, so);
      if (std::find(seg_metrics.begin(), seg_metrics.end(), "dice") != seg_metrics.end()) {
        // The reference's number (MONAI DiceMetric(include_background=True)): background 0 plus
        // the scored classes; classes absent from this reference are NaN there, so the case's
        // nonzero values suffice when no --labels were given.
        std::vector<int64_t> classes = {0};
        for (int64_t l : so.labels)
          if (l != 0) classes.push_back(l);
        cs.instance[kDiceWithBackground] = case_dice_with_background(p, r, classes);
      }
    }
    for (const auto& m : options.metrics) {
      if (m == "voi") {
        VoiResult v = variation_of_information(p, r, options.ref_ignore);
        cs.instance["voi_split"] = v.split;
        cs.instance["voi_merge"] = v.merge;
        cs.instance["voi"] = v.total();
      } else if (m == "arand") {
        cs.instance["arand"] = adapted_rand_error(p, r, options.ref_ignore).error;
      }
    }
    summary.cases.push_back(std::move(cs));
  }

  if (class_metrics) {
    summary.labels =
        options.labels.empty() ? std::vector<int64_t>(ref_values.begin(), ref_values.end()) : options.labels;
    GTGM_CHECK(!summary.labels.empty(), "score: the references in {} hold no nonzero label; pass --labels",
               options.ref.string());
    const double both_empty_dice = options.both_empty_as_perfect ? 1.0 : std::nan("");
    for (auto& cs : summary.cases) {
      std::map<int64_t, std::map<std::string, double>> kept;
      for (int64_t l : summary.labels) {
        auto it = cs.classes.find(l);
        if (it != cs.classes.end()) {
          kept[l] = it->second;
          continue;
        }
        for (const auto& m : seg_metrics)
          kept[l][m] = m == "hd95" ? (options.both_empty_as_perfect ? 0.0 : std::nan("")) : both_empty_dice;
      }
      cs.classes = std::move(kept);
    }
    for (const auto& m : seg_metrics) {
      std::vector<double> class_means;
      for (int64_t l : summary.labels) {
        std::vector<double> values;
        for (const auto& cs : summary.cases) values.push_back(cs.classes.at(l).at(m));
        summary.class_means[l][m] = nan_mean(values);
        class_means.push_back(summary.class_means[l][m]);
      }
      summary.mean[m] = nan_mean(class_means);
    }
  }
  for (const char* m : {"voi_split", "voi_merge", "voi", "arand", kDiceWithBackground}) {
    std::vector<double> values;
    for (const auto& cs : summary.cases) {
      auto it = cs.instance.find(m);
      if (it != cs.instance.end()) values.push_back(it->second);
    }
    if (!values.empty()) summary.mean[m] = nan_mean(values);
  }

  fs::path out = options.output;
  if (out.empty()) {
    const fs::path pred = options.pred.empty() ? pairs.front().pred : options.pred;
    out = (fs::is_directory(pred) ? pred : file_part(pred).parent_path()) / "summary.json";
  }
  core::atomic_write_text(out, summary_json(summary));
  GTGM_INFO("score: wrote {}", out.string());
  return summary;
}

std::string summary_json(const ScoreSummary& s) {
  using nlohmann::json;
  json j;
  j["pred"] = s.pred;
  j["ref"] = s.ref;
  j["metrics"] = s.metrics;
  j["labels"] = s.labels;
  j["nsd_tolerance"] = s.nsd_tolerance;
  j["both_empty_as_perfect"] = s.both_empty_as_perfect;
  j["cases"] = json::array();
  for (const auto& cs : s.cases) {
    json c = {{"case", cs.files.id}, {"pred", cs.files.pred.string()}, {"ref", cs.files.ref.string()}};
    if (!cs.classes.empty()) {
      json classes = json::object();
      for (const auto& [label, values] : cs.classes)
        for (const auto& [m, v] : values) classes[std::to_string(label)][m] = number(v);
      c["classes"] = classes;
    }
    for (const auto& [m, v] : cs.instance) c[m] = number(v);
    j["cases"].push_back(c);
  }
  json class_means = json::object();
  for (const auto& [label, values] : s.class_means)
    for (const auto& [m, v] : values) class_means[std::to_string(label)][m] = number(v);
  j["class_means"] = class_means;
  json mean = json::object();
  for (const auto& [m, v] : s.mean) mean[m] = number(v);
  j["mean"] = mean;
  return j.dump(2) + "\n";
}

std::string format_score_table(const ScoreSummary& s) {
  std::vector<std::string> header = {"case"};
  std::vector<std::pair<int64_t, std::string>> class_cols;
  for (int64_t l : s.labels)
    for (const auto& m : s.metrics)
      if (is_class_metric(m)) {
        class_cols.emplace_back(l, m);
        header.push_back(fmt::format("{}[{}]", m, l));
      }
  std::vector<std::string> instance_cols;
  for (const auto& m : s.metrics) {
    if (m == "dice") instance_cols.push_back(kDiceWithBackground);
    if (m == "voi") instance_cols.insert(instance_cols.end(), {"voi_split", "voi_merge", "voi"});
    if (m == "arand") instance_cols.push_back("arand");
  }
  header.insert(header.end(), instance_cols.begin(), instance_cols.end());
  std::vector<std::vector<std::string>> rows;
  for (const auto& cs : s.cases) {
    std::vector<std::string> row = {cs.files.id};
    for (const auto& [l, m] : class_cols) row.push_back(cell(cs.classes.at(l).at(m)));
    for (const auto& m : instance_cols) row.push_back(cell(cs.instance.at(m)));
    rows.push_back(row);
  }
  std::vector<std::string> mean_row = {"mean"};
  for (const auto& [l, m] : class_cols) mean_row.push_back(cell(s.class_means.at(l).at(m)));
  for (const auto& m : instance_cols) mean_row.push_back(cell(s.mean.at(m)));
  rows.push_back(mean_row);

  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&width](const std::vector<std::string>& r) {
    std::string s;
    for (size_t c = 0; c < r.size(); ++c)
      s += c == 0 ? fmt::format("{:<{}}", r[c], width[c]) : fmt::format("  {:>{}}", r[c], width[c]);
    return s + "\n";
  };
  std::string out = line(header);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i + 1 == rows.size()) {
      size_t total = 0;
      for (size_t c = 0; c < width.size(); ++c) total += width[c] + (c ? 2 : 0);
      out += std::string(total, '-') + "\n";
    }
    out += line(rows[i]);
  }
  std::vector<std::string> means;
  for (const auto& m : s.metrics)
    if (is_class_metric(m)) means.push_back(fmt::format("{} {}", m, cell(s.mean.at(m))));
  if (!means.empty()) {
    out += "mean over classes:";
    for (const auto& m : means) out += "  " + m;
    out += "\n";
  }
  if (s.mean.count(kDiceWithBackground)) {
    out += fmt::format("{} {} (mean over cases of each case's class mean, background included: the reference's "
                       "MONAI DiceMetric(include_background=True))\n",
                       kDiceWithBackground, cell(s.mean.at(kDiceWithBackground)));
  }
  return out;
}

}  // namespace gtgm::infer
