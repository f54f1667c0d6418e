#pragma once
#include <string>
#include <vector>

#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `data:` dataset location and layout, preprocessing cache, crops, loader.
struct DataConfig {
  std::string root = "";
  std::string format = "msd";
  std::string modality = "CT";
  std::string cache_dir = "";
  std::vector<int> crop_size = {24, 224, 224};
  int batch_size = 2;
  int num_workers = 4;
  int prefetch = 4;
  bool pin_memory = true;
  double foreground_oversample = 0.33;
  int split_seed = 42;
  double train_fraction = 0.8;
  double label_fraction = 1.0;

  template <class V>
  void visit(V& v) {
    v.field("root", root, "Dataset root folder (MSD task, nnU-Net raw dataset, CREMI folder or volume folder).");
    v.field("format", format, "On-disk layout of `root`.", one_of({"msd", "nnunet", "cremi", "glob"}));
    v.field("modality", modality, "Decides normalisation (CT window + z-score; MRI/EM per-case z-score).",
            one_of({"CT", "MRI", "EM"}));
    v.field("cache_dir", cache_dir, "Preprocessed cache folder; empty = <root>/gtgm_cache.");
    v.field("crop_size", crop_size, "Crop / patch size [D, H, W] in voxels.", ge(1).length(3));
    v.field("batch_size", batch_size, "Samples per step per process.", ge(1));
    v.field("num_workers", num_workers, "Loader worker threads.", ge(0));
    v.field("prefetch", prefetch, "Batches queued ahead of the training step.", ge(1));
    v.field("pin_memory", pin_memory, "Pinned host memory + non-blocking copies on CUDA.");
    v.field("foreground_oversample", foreground_oversample,
            "Fraction of segmentation patches forced to contain foreground.", between(0, 1));
    v.field("split_seed", split_seed, "Seed of the train/test shuffle (paper: 42).", ge(0));
    v.field("train_fraction", train_fraction, "Train part of the seeded split (paper: 0.8).", in_open_closed(0, 1));
    v.field("label_fraction", label_fraction, "Fraction of the train part used with labels (0.01, 0.1, 1).",
            in_open_closed(0, 1));
  }
};

}  // namespace gtgm::config
