#pragma once
/// Start-of-run checks of a config against the dataset it trains on: a config that contradicts the
/// dataset's own description (dataset.json) is refused before anything is trained, naming the config
/// key and the dataset.json field, instead of training silently on a wrong setting or failing
/// mid-run.
#include <filesystem>
#include <string>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/data/manifest.h"

namespace gtgm::app {

/// The contradictions between `cfg` and `manifest`, one line each (empty when there are none):
///  - model.num_classes vs the classes of dataset.json "labels" (highest value + 1; nnU-Net's
///    "ignore" label is not a class), segmentation fine-tuning only;
///  - model.in_channels vs the channels of "modality" (MSD) / "channel_names" (nnU-Net);
///  - data.modality vs those channel names: CT with no channel named CT, or MRI with every channel
///    named CT.
/// Datasets without a dataset.json (CREMI, glob folders) have nothing to contradict.
std::vector<std::string> dataset_contradictions(const config::Config& cfg, const data::Manifest& manifest,
                                                bool segmentation);

/// Fills the `auto` keys that follow the dataset (config::file_defaults) from `manifest`:
/// data.modality, model.in_channels, and model.num_classes when `segmentation`. Keys with a value
/// are left as they are (dataset_contradictions checks them). Returns one line per filled key,
/// naming the dataset field it came from, for the run's log. Throws ConfigError naming the key when
/// the dataset cannot tell (see data/dataset_auto.h).
std::vector<std::string> resolve_dataset_auto(config::Config& cfg, const data::Manifest& manifest, bool segmentation);

/// Fills data.crop_size from `cache_dir`/plan.json when it is auto; the line for the log, or "".
std::string resolve_planned_crop(config::Config& cfg, const std::filesystem::path& cache_dir);

/// Segmentation: throws a ConfigError naming model.num_classes when the label values the cache's
/// fingerprint.json counted (every training label file) do not fit [0, model.num_classes): caught
/// at start, not by the loss mid-run. Nothing to check without a fingerprint or for instance ids.
void check_labels_fit_classes(const config::Config& cfg, const std::filesystem::path& cache_dir);

/// Throws a ConfigError listing dataset_contradictions() when there are any.
void check_config_against_dataset(const config::Config& cfg, const data::Manifest& manifest, bool segmentation);

}  // namespace gtgm::app
