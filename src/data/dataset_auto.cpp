#include "gtgm/data/dataset_auto.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

#include "gtgm/core/error.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/data/plan.h"

namespace fs = std::filesystem;

namespace gtgm::data {
namespace {

std::string channels_field(const Manifest& m) {
  return fmt::format("{} {}", (m.root / "dataset.json").string(),
                     m.format == "msd" ? "\"modality\"" : "\"channel_names\"");
}

bool is_ct(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s == "CT";
}

}  // namespace

FromDataset<config::Modality> dataset_modality(const Manifest& m) {
  if (m.format == "cremi") return {config::Modality::EM, "data.format cremi"};
  if (m.channel_names.empty()) {
    throw ConfigError(fmt::format(
        "data.modality is auto, but the {} dataset in {} names no channels (no dataset.json \"modality\" / "
        "\"channel_names\"): set data.modality to CT, MRI or EM",
        m.format, m.root.string()));
  }
  const auto ct = ct_channel_count(m);
  const std::string source = channels_field(m);
  if (ct == static_cast<int64_t>(m.channel_names.size())) return {config::Modality::CT, source};
  if (ct == 0) return {config::Modality::MRI, source};
  throw ConfigError(fmt::format(
      "data.modality is auto, but {} mixes CT with other channels ({}): set data.modality (CT applies the "
      "Hounsfield window to every channel, MRI a per-case z-score)",
      source, fmt::join(m.channel_names, ", ")));
}

FromDataset<int> dataset_channels(const Manifest& m) {
  if (!m.channel_names.empty()) return {static_cast<int>(m.channel_names.size()), channels_field(m)};
  if (m.format == "cremi") return {1, "data.format cremi"};
  GTGM_CHECK(!m.training.empty() && !m.training.front().images.empty(),
             "model.in_channels is auto, but the dataset in {} lists no images to read it from", m.root.string());
  const CaseEntry& c = m.training.front();
  int64_t n = 0;
  for (const auto& image : c.images) n += io::read_volume_header(image).channels;
  return {static_cast<int>(n), fmt::format("the header of {}", c.images.front())};
}

int64_t highest_declared_label(const Manifest& m) {
  int64_t highest = -1;
  for (const auto& [value, name] : m.labels) {
    if (m.format == "nnunet" && name == "ignore") continue;
    highest = std::max(highest, value);
  }
  return highest;
}

int64_t ct_channel_count(const Manifest& m) {
  return std::count_if(m.channel_names.begin(), m.channel_names.end(), is_ct);
}

FromDataset<int> dataset_num_classes(const Manifest& m) {
  const int64_t highest = highest_declared_label(m);
  if (highest < 1) {
    throw ConfigError(fmt::format(
        "model.num_classes is auto, but the {} dataset in {} declares no foreground labels (dataset.json "
        "\"labels\"): set model.num_classes (classes including background)",
        m.format, m.root.string()));
  }
  return {static_cast<int>(highest + 1), fmt::format("{} \"labels\"", (m.root / "dataset.json").string())};
}

config::DataConfig with_modality_resolved(const config::DataConfig& cfg, const Manifest& m) {
  config::DataConfig out = cfg;
  if (out.modality == config::Modality::Auto) out.modality = dataset_modality(m).value;
  return out;
}

std::array<int64_t, 3> planned_patch(const fs::path& cache_dir) {
  const fs::path path = cache_dir / "plan.json";
  GTGM_CHECK(fs::exists(path), "data.crop_size is auto (the planned patch), but {} does not exist: run `gtgm plan`",
             path.string());
  const Plan plan = Plan::from_json(core::read_text_file(path), path.string());
  for (const int64_t p : plan.patch_size) {
    GTGM_CHECK(p >= 1, "data.crop_size is auto, but {} holds no patch_size ([{}]): run `gtgm plan` again",
               path.string(), fmt::join(plan.patch_size, ", "));
  }
  return plan.patch_size;
}

std::string fill_planned_crop(config::DataConfig& data, const fs::path& cache_dir) {
  if (!data.crop_size.empty()) return "";
  const auto p = planned_patch(cache_dir);
  data.crop_size = {static_cast<int>(p[0]), static_cast<int>(p[1]), static_cast<int>(p[2])};
  return fmt::format("data.crop_size: auto = [{}, {}, {}] (the planned patch of {})", p[0], p[1], p[2],
                     (cache_dir / "plan.json").string());
}

}  // namespace gtgm::data
