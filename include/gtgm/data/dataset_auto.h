#pragma once
/// What the `auto` keys that follow the dataset resolve to (docs/configs.md "Keys that follow the
/// dataset"): data.modality and the input channel count from dataset.json (or the layout), the
/// patch from the plan. The run commands fill them at start (app::resolve_dataset_auto); the data
/// commands (plan, preprocess) fill data.modality here.
#include <array>
#include <cstdint>
#include <string>

#include "gtgm/config/data_config.h"
#include "gtgm/data/manifest.h"

namespace gtgm::data {

/// A value read from the dataset and where it came from ("dataset.json \"modality\"", ...).
template <class T>
struct FromDataset {
  T value;
  std::string source;
};

/// The modality the dataset implies: EM for data.format cremi; for dataset.json, CT when every
/// channel is named CT, MRI when none is. Throws ConfigError naming data.modality when it cannot
/// be decided (a glob folder, CT mixed with other channels, no channel names).
FromDataset<config::Modality> dataset_modality(const Manifest& m);

/// The input channel count: dataset.json's channel list; 1 for cremi; for a glob folder, the
/// first training image's header (channels x files).
FromDataset<int> dataset_channels(const Manifest& m);

/// The class count dataset.json "labels" declares (highest value + 1; nnU-Net's "ignore" label does
/// not count). Throws ConfigError naming model.num_classes when the layout declares no labels.
FromDataset<int> dataset_num_classes(const Manifest& m);

/// The highest label value dataset.json "labels" declares, nnU-Net's "ignore" left out; -1 when
/// it declares none.
int64_t highest_declared_label(const Manifest& m);

/// How many of the dataset's channel names are CT (case-insensitive).
int64_t ct_channel_count(const Manifest& m);

/// `cfg` with data.modality filled from the dataset when it is auto (unchanged otherwise).
config::DataConfig with_modality_resolved(const config::DataConfig& cfg, const Manifest& m);

/// The planned patch of the cache's plan.json ([D, H, W]); throws naming data.crop_size when the
/// plan has none.
std::array<int64_t, 3> planned_patch(const std::filesystem::path& cache_dir);

/// data.crop_size: auto (empty) becomes the cache's planned patch; returns the log line that says so
/// ("data.crop_size: auto = [..] (the planned patch of .../plan.json)"), "" when it was explicit.
std::string fill_planned_crop(config::DataConfig& data, const std::filesystem::path& cache_dir);

}  // namespace gtgm::data
