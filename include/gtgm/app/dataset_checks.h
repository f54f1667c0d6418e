#pragma once
/// Start-of-run checks of a config against the dataset it trains on: a config that contradicts the
/// dataset's own description (dataset.json) is refused before anything is trained, naming the config
/// key and the dataset.json field, instead of training silently on a wrong setting or failing
/// mid-run.
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

/// Throws a ConfigError listing dataset_contradictions() when there are any.
void check_config_against_dataset(const config::Config& cfg, const data::Manifest& manifest, bool segmentation);

}  // namespace gtgm::app
