#pragma once
#include <string>
#include <vector>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `data.preprocess.orientation`: the canonical orientation of the cache.
enum class Orientation { LPS, RAS, None };
template <>
struct EnumNames<Orientation> {
  static constexpr std::pair<Orientation, const char*> items[] = {
      {Orientation::LPS, "LPS"}, {Orientation::RAS, "RAS"}, {Orientation::None, "none"}};
};

/// `data.preprocess.label_interp`: label resampling.
enum class LabelInterp { Nearest, Linear };
template <>
struct EnumNames<LabelInterp> {
  static constexpr std::pair<LabelInterp, const char*> items[] = {{LabelInterp::Nearest, "nearest"},
                                                                  {LabelInterp::Linear, "linear"}};
};

/// `data.preprocess.image_dtype`: element type of cached images.
enum class ImageDtype { Float32, Float16 };
template <>
struct EnumNames<ImageDtype> {
  static constexpr std::pair<ImageDtype, const char*> items[] = {{ImageDtype::Float32, "float32"},
                                                                 {ImageDtype::Float16, "float16"}};
};

/// `data.preprocess.compression`: cache payload compression.
enum class Compression { None, Zstd };
template <>
struct EnumNames<Compression> {
  static constexpr std::pair<Compression, const char*> items[] = {{Compression::None, "none"},
                                                                  {Compression::Zstd, "zstd"}};
};

/// `data.preprocess.ct_clip`: CT intensity clipping before z-score.
enum class CtClip { Percentile, Window, None };
template <>
struct EnumNames<CtClip> {
  static constexpr std::pair<CtClip, const char*> items[] = {
      {CtClip::Percentile, "percentile"}, {CtClip::Window, "window"}, {CtClip::None, "none"}};
};

/// `data.format`: the on-disk layout of data.root.
enum class DataFormat { MSD, NNUNet, CREMI, Glob };
template <>
struct EnumNames<DataFormat> {
  static constexpr std::pair<DataFormat, const char*> items[] = {{DataFormat::MSD, "msd"},
                                                                 {DataFormat::NNUNet, "nnunet"},
                                                                 {DataFormat::CREMI, "cremi"},
                                                                 {DataFormat::Glob, "glob"}};
};

/// `data.modality`: decides normalisation. Auto is decided from the dataset at run start (see
/// data::resolve_modality) and never reaches the pipeline.
enum class Modality { Auto, CT, MRI, EM };
template <>
struct EnumNames<Modality> {
  static constexpr std::pair<Modality, const char*> items[] = {
      {Modality::Auto, "auto"}, {Modality::CT, "CT"}, {Modality::MRI, "MRI"}, {Modality::EM, "EM"}};
};

/// `data.split_order`: the order of the case list before the seeded shuffle.
enum class SplitOrder { File, Sorted };
template <>
struct EnumNames<SplitOrder> {
  static constexpr std::pair<SplitOrder, const char*> items[] = {{SplitOrder::File, "file"},
                                                                 {SplitOrder::Sorted, "sorted"}};
};

/// `data.split_sizes`: how the part sizes of the seeded split are rounded.
enum class SplitSizes { Reference, Rounded };
template <>
struct EnumNames<SplitSizes> {
  static constexpr std::pair<SplitSizes, const char*> items[] = {{SplitSizes::Reference, "reference"},
                                                                 {SplitSizes::Rounded, "rounded"}};
};

/// `data.label_fraction_of`: what data.label_fraction is a fraction of.
enum class LabelFractionOf { Train, All };
template <>
struct EnumNames<LabelFractionOf> {
  static constexpr std::pair<LabelFractionOf, const char*> items[] = {{LabelFractionOf::Train, "train"},
                                                                      {LabelFractionOf::All, "all"}};
};

/// `data.preprocess.normalization`: intensity normalisation of the cache.
enum class Normalization { Modality, Range };
template <>
struct EnumNames<Normalization> {
  static constexpr std::pair<Normalization, const char*> items[] = {{Normalization::Modality, "modality"},
                                                                    {Normalization::Range, "range"}};
};

/// `data.augment_on`: where batched augmentation runs.
enum class AugmentOn { Auto, Worker, Device };
template <>
struct EnumNames<AugmentOn> {
  static constexpr std::pair<AugmentOn, const char*> items[] = {
      {AugmentOn::Auto, "auto"}, {AugmentOn::Worker, "worker"}, {AugmentOn::Device, "device"}};
};

/// `data.preprocess:` how `gtgm plan` / `gtgm preprocess` turn source volumes into the cache.
struct PreprocessConfig {
  Orientation orientation = Orientation::LPS;
  std::vector<double> target_spacing = {};
  Normalization normalization = Normalization::Modality;
  std::vector<double> intensity_range = {-175.0, 250.0};
  double anisotropy_threshold = 3.0;
  CtClip ct_clip = CtClip::Percentile;
  std::vector<double> ct_percentiles = {0.5, 99.5};
  std::vector<double> ct_window = {-1000.0, 1000.0};
  bool crop_nonzero = true;
  LabelInterp label_interp = LabelInterp::Nearest;
  ImageDtype image_dtype = ImageDtype::Float32;
  Compression compression = Compression::None;
  int64_t patch_voxels = 128 * 128 * 128;
  int fg_locations = 1000;
  int workers = 0;

  template <class V>
  void visit(V& v) {
    v.field("orientation", orientation,
            "Canonical orientation the cache is stored in (LPS = identity direction, as ITK; RAS flips x "
            "and y; none keeps the file's axes).");
    v.field("target_spacing", target_spacing,
            "Cache spacing [D, H, W] (mm, nm for EM); auto (or []) = planned (median, anisotropic-axis rule).",
            gt(0).length(0, 3).or_auto());
    v.field("anisotropy_threshold", anisotropy_threshold,
            "Planning: an axis whose median spacing exceeds this times the finest gets the 10th percentile.", gt(1));
    v.field("normalization", normalization,
            "Intensity normalisation: modality (CT: clip per ct_clip + z-score; MRI/EM: per-case z-score) or "
            "range (every channel of every modality clipped to intensity_range and scaled to [0, 1], as the "
            "reference's MONAI ScaleIntensityRanged(-175, 250 -> 0, 1, clip) for all MSD tasks).");
    v.field("intensity_range", intensity_range,
            "normalization=range: [a_min, a_max] mapped to [0, 1], values outside clipped (reference: [-175, 250]).",
            any().length(2));
    v.field("ct_clip", ct_clip,
            "CT intensity clipping before z-score: foreground percentiles, a fixed window, or none.");
    v.field("ct_percentiles", ct_percentiles, "CT clip percentiles of foreground intensities (ct_clip=percentile).",
            between(0, 100).length(2));
    v.field("ct_window", ct_window, "CT clip window [low, high] in HU (ct_clip=window).", any().length(2));
    v.field("crop_nonzero", crop_nonzero, "Crop each case to the bounding box of its nonzero voxels.");
    v.field("label_interp", label_interp,
            "Label resampling: nearest neighbour, or per-class linear (smoother, argmax of interpolated one-hot).");
    v.field("image_dtype", image_dtype, "Element type of cached images.");
    v.field("compression", compression,
            "Cache payload: none (memory-mapped in place) or zstd (smaller; decompressed into RAM on open).");
    v.field("patch_voxels", patch_voxels, "Planning: voxel budget of the suggested segmentation patch.", ge(4096));
    v.field("fg_locations", fg_locations, "Foreground voxel positions stored per class and case (oversampling).",
            ge(1));
    v.field("workers", workers, "Preprocessing threads; 0 = data.num_workers (at least 1).", ge(0));
  }
};

/// `data.pretrain_augment.views`: how the two pretraining views are made.
enum class PretrainViews { Gtgm, Reference };
template <>
struct EnumNames<PretrainViews> {
  static constexpr std::pair<PretrainViews, const char*> items[] = {{PretrainViews::Gtgm, "gtgm"},
                                                                    {PretrainViews::Reference, "reference"}};
};

/// `data.pretrain_augment:` the two-view augmentation of pretraining (PAPER.md).
struct PretrainAugmentConfig {
  PretrainViews views = PretrainViews::Gtgm;
  int64_t context = 80;
  double view_shift = 0.5;
  bool transpose = true;
  double rescale_max = 1.5;
  double intensity = 0.1;
  std::vector<double> noise_std = {0.01, 0.2};
  std::vector<int> blur_kernel = {3, 9};
  std::vector<double> blur_sigma = {0.0, 2.0};

  template <class V>
  void visit(V& v) {
    v.field("views", views,
            "gtgm: two crops (data.pretrain_augment.view_shift apart), each with its own flips/transposes and one "
            "perturbation; reference: one crop with in-plane context, one flip/transpose drawn for both views, then "
            "one perturbation per view of rescale/flip/intensity/noise/blur as the reference "
            "(docs/pretraining.md).");
    v.field("context", context,
            "views=reference: in-plane voxels read on each side of the crop (reference sub_padding 80) for the "
            "rescale perturbation; needs 2 * context >= crop (H, W) * (rescale_max - 1).",
            ge(0));
    v.field("view_shift", view_shift,
            "Largest offset of view 2 from view 1 per axis, as a fraction of the crop size (0 = same crop).",
            between(0, 1));
    v.field("transpose", transpose,
            "Random axis transposes (only between axes with equal crop size and spacing, e.g. H and W).");
    v.field("rescale_max", rescale_max, "Rescale perturbation: zoom factor drawn in [1/max, max] (views=reference: the reference's "
            "scale_factor, an in-plane window of side in [W/max, W*max] resized to the crop).",
            ge(1));
    v.field("intensity", intensity,
            "Intensity perturbation: contrast in 1 +- x and brightness in +- x (views=reference: also gamma "
            "2^U(-1,1); reference 0.05).",
            between(0, 1));
    v.field("noise_std", noise_std, "Gaussian-noise perturbation: std range (images in [0, 1]).",
            between(0, 10).length(2));
    v.field("blur_kernel", blur_kernel, "Gaussian-blur perturbation: odd kernel size range.", ge(1).length(2));
    v.field("blur_sigma", blur_sigma, "Gaussian-blur perturbation: sigma range (voxels).", between(0, 100).length(2));
  }
};

/// `data.seg_augment:` segmentation augmentation (nnU-Net-like probabilities, per sample).
struct SegAugmentConfig {
  double flip = 0.5;
  double rot90 = 0.5;
  double scale = 0.2;
  std::vector<double> scale_range = {0.7, 1.4};
  double intensity = 0.15;
  std::vector<double> intensity_scale = {0.75, 1.25};
  double intensity_shift = 0.1;
  double gamma = 0.3;
  std::vector<double> gamma_range = {0.7, 1.5};
  double noise = 0.1;
  std::vector<double> noise_variance = {0.0, 0.1};
  double blur = 0.2;
  std::vector<double> blur_sigma = {0.5, 1.0};

  template <class V>
  void visit(V& v) {
    v.field("flip", flip, "Probability of mirroring, per axis.", between(0, 1));
    v.field("rot90", rot90, "Probability of an in-plane (H, W) 90-degree rotation.", between(0, 1));
    v.field("scale", scale, "Probability of isotropic scaling.", between(0, 1));
    v.field("scale_range", scale_range, "Scaling factor range.", gt(0).length(2));
    v.field("intensity", intensity, "Probability of an intensity scale + shift.", between(0, 1));
    v.field("intensity_scale", intensity_scale, "Intensity multiplier range.", gt(0).length(2));
    v.field("intensity_shift", intensity_shift, "Intensity shift range +- (in units of the normalised image).", ge(0));
    v.field("gamma", gamma, "Probability of a gamma transform (on the sample's range).", between(0, 1));
    v.field("gamma_range", gamma_range, "Gamma range.", gt(0).length(2));
    v.field("noise", noise, "Probability of additive Gaussian noise.", between(0, 1));
    v.field("noise_variance", noise_variance, "Noise variance range.", ge(0).length(2));
    v.field("blur", blur, "Probability of Gaussian blur.", between(0, 1));
    v.field("blur_sigma", blur_sigma, "Blur sigma range (voxels).", gt(0).length(2));
  }
};

/// `data:` dataset location and layout, preprocessing cache, crops, loader.
struct DataConfig {
  std::string root = "";
  DataFormat format = DataFormat::MSD;
  Modality modality = Modality::CT;
  std::string cache_dir = "";
  std::vector<int> crop_size = {24, 224, 224};
  int batch_size = 2;
  int num_workers = 4;
  int prefetch = 4;
  bool pin_memory = true;
  double foreground_oversample = 0.33;
  int split_seed = 42;
  SplitOrder split_order = SplitOrder::File;
  SplitSizes split_sizes = SplitSizes::Reference;
  double train_fraction = 0.8;
  double label_fraction = 1.0;
  LabelFractionOf label_fraction_of = LabelFractionOf::Train;
  int fold = -1;
  int num_folds = 5;
  std::string pattern = "**/*.nii.gz";
  bool allow_outside_root = false;
  int64_t samples_per_epoch = 0;
  double em_pretrain_z = 0.6;
  AugmentOn augment_on = AugmentOn::Auto;
  PreprocessConfig preprocess;
  PretrainAugmentConfig pretrain_augment;
  SegAugmentConfig seg_augment;

  template <class V>
  void visit(V& v) {
    v.field("root", root, "Dataset root folder (MSD task, nnU-Net raw dataset, CREMI folder or volume folder).");
    v.field("format", format, "On-disk layout of `root`.");
    v.field("modality", modality,
            "Decides normalisation (CT window + z-score; MRI/EM per-case z-score); auto = from dataset.json "
            "(CT when every channel is CT, else MRI; EM for data.format cremi).");
    v.field("cache_dir", cache_dir, "Preprocessed cache folder; empty = <root>/gtgm_cache.");
    v.field("crop_size", crop_size,
            "Crop / patch size [D, H, W] in voxels; auto = the planned patch (plan.json patch_size).",
            ge(1).length(3).or_auto());
    v.field("batch_size", batch_size, "Samples per step per process.", ge(1));
    v.field("num_workers", num_workers, "Loader worker threads.", ge(0));
    v.field("prefetch", prefetch, "Batches queued ahead of the training step.", ge(1));
    v.field("pin_memory", pin_memory, "Pinned host memory + non-blocking copies on CUDA.");
    v.field("foreground_oversample", foreground_oversample,
            "Fraction of segmentation patches forced to contain foreground.", between(0, 1));
    v.field("split_seed", split_seed, "Seed of the train/test shuffle (paper: 42).", ge(0));
    v.field("split_order", split_order,
            "Case order before the seeded shuffle: file (the order the dataset lists them, e.g. dataset.json's "
            "training list, as the reference) or sorted (by case id; independent of listing order).");
    v.field("split_sizes", split_sizes,
            "Part sizes: reference (train = int(n * train_fraction), labelled = int(n * rate), at least 1; as "
            "finetune/task1.py) or rounded (test = ceil(n * (1 - train_fraction)), labelled = round(f * train size)).");
    v.field("train_fraction", train_fraction, "Train part of the seeded split (paper: 0.8).", in_open_closed(0, 1));
    v.field("label_fraction", label_fraction,
            "Fraction of the cases used with labels (0.01, 0.1, 1); of what: data.label_fraction_of.",
            in_open_closed(0, 1));
    v.field("label_fraction_of", label_fraction_of,
            "train: label_fraction of the train part (1 = the whole train part; the reference's train_rate = "
            "train_fraction * label_fraction); all: of all cases (capped at the train part).");
    v.field("fold", fold, "k-fold cross-validation: the test fold (0..num_folds-1); -1 = the seeded train/test split.",
            ge(-1));
    v.field("num_folds", num_folds, "Number of folds when data.fold >= 0.", ge(2));
    v.field("pattern", pattern,
            "format=glob: files under root to use (`*`, `?` within a folder, `**` across folders).");
    v.field("allow_outside_root", allow_outside_root,
            "Allow manifest paths outside data.root (`../x.nii.gz`, absolute paths elsewhere).");
    v.field("samples_per_epoch", samples_per_epoch,
            "Crops per epoch over all ranks (rounded up to whole global batches); 0 = one per training case.", ge(0));
    v.field("em_pretrain_z", em_pretrain_z,
            "EM (format cremi) pretraining samples crops only from the first this fraction of each volume's "
            "slices: the part `finetune` trains on (finetune.em_train_z 0.6), so that pretraining never sees the "
            "slices `gtgm eval` scores; 1 = the whole volume.",
            in_open_closed(0, 1));
    v.field("augment_on", augment_on,
            "Where batched augmentation runs: auto (the training device when it is CUDA, else the loader "
            "workers), worker, or device.");
    v.section("preprocess", preprocess, "Planning and preprocessing into the cache.");
    v.section("pretrain_augment", pretrain_augment, "Two-view pretraining augmentation (PAPER.md).");
    v.section("seg_augment", seg_augment, "Segmentation augmentation.");
  }
};

}  // namespace gtgm::config
