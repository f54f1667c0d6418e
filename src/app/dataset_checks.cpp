#include "gtgm/app/dataset_checks.h"

#include <fmt/ranges.h>

#include <algorithm>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/data/dataset_auto.h"
#include "gtgm/data/plan.h"

namespace gtgm::app {

std::vector<std::string> dataset_contradictions(const config::Config& cfg, const data::Manifest& m,
                                                bool segmentation) {
  std::vector<std::string> out;
  if (m.format != "msd" && m.format != "nnunet") return out;
  const std::string json = (m.root / "dataset.json").string();
  const std::string channels_field = m.format == "msd" ? "\"modality\"" : "\"channel_names\"";

  if (segmentation && !m.labels.empty()) {
    const int64_t highest = data::highest_declared_label(m);
    std::vector<std::string> classes;
    for (const auto& [value, name] : m.labels)
      if (!(m.format == "nnunet" && name == "ignore")) classes.push_back(fmt::format("{} {}", value, name));
    if (highest >= 0 && cfg.model.num_classes != 0 && cfg.model.num_classes != highest + 1) {
      out.push_back(fmt::format(
          "model.num_classes is {}, but {} \"labels\" declares {} class(es) ({}): set model.num_classes: {}{}",
          cfg.model.num_classes, json, highest + 1, fmt::join(classes, ", "), highest + 1,
          cfg.model.num_classes > highest + 1 ? " (a class that never occurs would be averaged into the mean Dice)"
                                              : " (labels above it could not be learned)"));
    }
  }
  if (!m.channel_names.empty()) {
    const int64_t n = static_cast<int64_t>(m.channel_names.size());
    if (cfg.model.encoder.in_channels != 0 && cfg.model.encoder.in_channels != n) {
      out.push_back(fmt::format("model.in_channels is {}, but {} {} lists {} channel(s) ({}): set model.in_channels: {}",
                                cfg.model.encoder.in_channels, json, channels_field, n, fmt::join(m.channel_names, ", "), n));
    }
    const int64_t ct = data::ct_channel_count(m);
    if (cfg.data.modality == config::Modality::CT && ct == 0) {
      out.push_back(fmt::format(
          "data.modality is CT (Hounsfield-unit clipping and normalisation), but {} {} names no CT channel ({}): "
          "set data.modality: MRI",
          json, channels_field, fmt::join(m.channel_names, ", ")));
    } else if (cfg.data.modality == config::Modality::MRI && ct == n) {
      out.push_back(fmt::format("data.modality is MRI, but {} {} says {}: set data.modality: CT", json, channels_field,
                                fmt::join(m.channel_names, ", ")));
    } else if (cfg.data.modality == config::Modality::EM) {
      out.push_back(fmt::format("data.modality is EM, but {} is a {} dataset of {} channel(s) ({})", json,
                                m.format == "msd" ? "Medical Segmentation Decathlon" : "nnU-Net", n,
                                fmt::join(m.channel_names, ", ")));
    }
  }
  return out;
}

std::vector<std::string> resolve_dataset_auto(config::Config& cfg, const data::Manifest& manifest, bool segmentation) {
  std::vector<std::string> lines;
  if (cfg.data.modality == config::Modality::Auto) {
    const auto m = data::dataset_modality(manifest);
    cfg.data.modality = m.value;
    lines.push_back(fmt::format("data.modality: auto = {} (from {})", config::to_string(m.value), m.source));
  }
  if (cfg.model.encoder.in_channels == 0) {
    const auto c = data::dataset_channels(manifest);
    cfg.model.encoder.in_channels = c.value;
    lines.push_back(fmt::format("model.in_channels: auto = {} (from {})", c.value, c.source));
  }
  if (segmentation && cfg.model.num_classes == 0) {
    const auto k = data::dataset_num_classes(manifest);
    cfg.model.num_classes = k.value;
    lines.push_back(fmt::format("model.num_classes: auto = {} (from {})", k.value, k.source));
  }
  return lines;
}

std::string resolve_planned_crop(config::Config& cfg, const std::filesystem::path& cache_dir) {
  return data::fill_planned_crop(cfg.data, cache_dir);
}

void check_labels_fit_classes(const config::Config& cfg, const std::filesystem::path& cache_dir) {
  const std::filesystem::path file = cache_dir / "fingerprint.json";
  if (!std::filesystem::exists(file)) return;
  const data::Fingerprint fp = data::Fingerprint::from_json(core::read_text_file(file), file.string());
  if (fp.instance_labels || fp.class_frequency.empty()) return;
  const int64_t highest = fp.class_frequency.rbegin()->first;
  const int64_t lowest = fp.class_frequency.begin()->first;
  if (lowest >= 0 && highest < cfg.model.num_classes) return;
  std::vector<int64_t> values;
  for (const auto& [v, f] : fp.class_frequency) values.push_back(v);
  throw ConfigError(fmt::format(
      "model.num_classes is {}, but the label files of {} hold the values {} ({}): the network predicts classes "
      "[0, {}); set model.num_classes: {}{}",
      cfg.model.num_classes, cfg.data.root, fmt::join(values, ", "), file.string(), cfg.model.num_classes,
      std::max<int64_t>(highest + 1, 1),
      lowest < 0 ? " and relabel the negative values" : " (or `gtgm plan --check` to find the files)"));
}

void check_config_against_dataset(const config::Config& cfg, const data::Manifest& manifest, bool segmentation) {
  const std::vector<std::string> c = dataset_contradictions(cfg, manifest, segmentation);
  if (c.empty()) return;
  throw ConfigError(fmt::format("the config contradicts the dataset in {}:\n  {}", manifest.root.string(),
                                fmt::join(c, "\n  ")));
}

}  // namespace gtgm::app
