#include "gtgm/app/dataset_checks.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

#include "gtgm/core/error.h"

namespace gtgm::app {

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::vector<std::string> dataset_contradictions(const config::Config& cfg, const data::Manifest& m,
                                                bool segmentation) {
  std::vector<std::string> out;
  if (m.format != "msd" && m.format != "nnunet") return out;
  const std::string json = (m.root / "dataset.json").string();
  const std::string channels_field = m.format == "msd" ? "\"modality\"" : "\"channel_names\"";

  if (segmentation && !m.labels.empty()) {
    int64_t highest = -1;
    std::vector<std::string> classes;
    for (const auto& [value, name] : m.labels) {
      if (m.format == "nnunet" && name == "ignore") continue;
      highest = std::max(highest, value);
      classes.push_back(fmt::format("{} {}", value, name));
    }
    if (highest >= 0 && cfg.model.num_classes != highest + 1) {
      out.push_back(fmt::format(
          "model.num_classes is {}, but {} \"labels\" declares {} class(es) ({}): set model.num_classes: {}{}",
          cfg.model.num_classes, json, highest + 1, fmt::join(classes, ", "), highest + 1,
          cfg.model.num_classes > highest + 1 ? " (a class that never occurs would be averaged into the mean Dice)"
                                              : " (labels above it could not be learned)"));
    }
  }
  if (!m.channel_names.empty()) {
    const int64_t n = static_cast<int64_t>(m.channel_names.size());
    if (cfg.model.encoder.in_channels != n) {
      out.push_back(fmt::format("model.in_channels is {}, but {} {} lists {} channel(s) ({}): set model.in_channels: {}",
                                cfg.model.encoder.in_channels, json, channels_field, n, fmt::join(m.channel_names, ", "), n));
    }
    const auto ct = std::count_if(m.channel_names.begin(), m.channel_names.end(),
                                  [](const std::string& s) { return upper(s) == "CT"; });
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

void check_config_against_dataset(const config::Config& cfg, const data::Manifest& manifest, bool segmentation) {
  const std::vector<std::string> c = dataset_contradictions(cfg, manifest, segmentation);
  if (c.empty()) return;
  throw ConfigError(fmt::format("the config contradicts the dataset in {}:\n  {}", manifest.root.string(),
                                fmt::join(c, "\n  ")));
}

}  // namespace gtgm::app
