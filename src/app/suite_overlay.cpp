// Overlay PNGs of scored held-out cases (`gtgm eval`, `gtgm finetune`): image | image + prediction |
// image + reference, drawn by app::render_overlay.
#include <fmt/format.h>

#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

#include "gtgm/app/overlay.h"
#include "gtgm/app/suite.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/data/manifest.h"
#include "gtgm/io/png.h"
#include "gtgm/io/volume_io.h"

namespace gtgm::app {

namespace fs = std::filesystem;

namespace {

// Per-case Dice of a summary.json case entry: "classes": {"1": {"dice": v}, ...}; the foreground
// mean is the mean over the finite class values (NaN when none is).
std::optional<OverlayDice> case_dice(const nlohmann::json& c) {
  if (!c.contains("classes") || !c["classes"].is_object()) return std::nullopt;
  OverlayDice d;
  double sum = 0;
  int n = 0;
  for (const auto& entry : c["classes"].items()) {
    const nlohmann::json& metrics = entry.value();
    if (!metrics.is_object() || !metrics.contains("dice")) continue;
    const int64_t label = std::stoll(entry.key());
    const double v = metrics["dice"].is_number() ? metrics["dice"].get<double>() : std::nan("");
    d.classes[label] = v;
    if (std::isfinite(v) && label != 0) {
      sum += v;
      ++n;
    }
  }
  if (d.classes.empty()) return std::nullopt;
  d.mean = n > 0 ? sum / n : std::nan("");
  return d;
}

}  // namespace

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
  OverlayStyle style;
  style.size = options.size;
  style.patient_space = cfg.data.format != config::DataFormat::CREMI;
  style.class_names = manifest.labels;
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
    OverlayCase oc;
    oc.id = id;
    oc.image = io::read_volume(entry->images.front());
    oc.image.data = oc.image.data.slice(0, 0, 1);  // channel 0
    oc.prediction = io::read_volume(c.value("pred", ""));
    oc.reference = io::read_volume(c.value("ref", ""));
    oc.dice = case_dice(c);
    if (oc.prediction.shape() != oc.reference->shape()) {
      GTGM_WARN("overlay: case '{}': prediction {} and reference {} differ in shape; skipped", id,
                oc.prediction.data.sizes(), oc.reference->data.sizes());
      continue;
    }
    const auto ishape = oc.image.shape(), pshape = oc.prediction.shape();
    if (ishape != pshape && cfg.data.format == config::DataFormat::CREMI && ishape[1] == pshape[1] &&
        ishape[2] == pshape[2] && ishape[0] > pshape[0]) {
      // CREMI: the test part is the volume's last slices (finetune.em_train_z).
      oc.image.data = oc.image.data.slice(1, ishape[0] - pshape[0]);
    }
    if (oc.image.shape() != pshape) {
      GTGM_WARN("overlay: case '{}': image {} and prediction {} differ in shape; skipped", id, oc.image.data.sizes(),
                oc.prediction.data.sizes());
      continue;
    }
    const OverlayImage img = render_overlay(oc, style);
    const fs::path file = out_dir / (prefix + id + ".png");
    core::atomic_write_text(file, io::encode_png(img.rgb));
    written.push_back(file);
  }
  return written;
}

}  // namespace gtgm::app
