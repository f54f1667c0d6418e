#pragma once
/// `gtgm predict` as a library call, as nnU-Net's nnUNetv2_predict: segment new images with one
/// or more fine-tuning runs (an ensemble, e.g. the folds of `gtgm finetune --fold all`).
///   INPUT (a volume file, a DICOM series folder, or a folder of them) -> cases (nnU-Net channel
///   files grouped) -> per case: read, the runs' preprocessing plan, sliding window (mirror TTA
///   with --tta), probabilities averaged over the runs, argmax (or watershed for affinity runs),
///   back to the source grid -> OUTPUT/<case id><the source's extension> (.nii.gz for DICOM), and
///   with save_probabilities OUTPUT/probabilities/<case id>.nii.gz (float32 [K, D, H, W] on the
///   source grid, linear interpolation). OUTPUT/predict.json records the models, options and
///   per-case times. One case is in memory at a time.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gtgm/data/plan.h"
#include "gtgm/io/volume.h"

namespace gtgm::app {

/// One image to predict.
struct PredictCase {
  std::string id;
  /// One file per channel (nnU-Net CASE_0000, CASE_0001, ...), or one file / DICOM series folder
  /// holding all channels.
  std::vector<std::filesystem::path> files;
  /// Extension of the prediction: the source's (".nii.gz", ".nrrd", ".h5", ...), ".nii.gz" for
  /// DICOM input.
  std::string extension;
};

/// The images of `input`: a volume file (a `.dcm` file included); a folder holding one DICOM
/// series; or a folder whose volume files and DICOM series subfolders are the images. When every
/// volume file of the folder is named `<case>_XXXX` (4 digits) and each case has a `_0000`, they
/// are nnU-Net channel files: each case must have exactly `channels` of them, _0000 to
/// _{channels-1} (an error names the case and the files it lacks or has too many of). Sorted by
/// id; two images with one id are an error.
std::vector<PredictCase> find_predict_cases(const std::filesystem::path& input, int64_t channels);

/// What to do with predictions that already exist in the output folder.
enum class ExistingOutputs {
  Refuse,     ///< error before predicting anything, naming them
  Overwrite,  ///< predict again and replace them
  Skip,       ///< keep them, predict only the others (resuming an interrupted predict)
};

struct PredictOptions {
  std::filesystem::path input;
  /// A folder; a file path with a volume extension when `input` holds one image.
  std::filesystem::path output;
  /// Fine-tuning run dirs, checkpoint dirs or folders of fold_<k> runs (app::expand_model_dirs).
  std::vector<std::filesystem::path> models;
  /// Mirror TTA on/off; nullopt = as the runs' eval.mirror_tta.
  std::optional<bool> tta;
  bool save_probabilities = false;
  ExistingOutputs existing = ExistingOutputs::Refuse;
  torch::Device device = torch::kCPU;
  /// Overlay PNGs of the first `overlays` cases predicted: OUTPUT/overlays/<id>.png, image |
  /// image + prediction in radiological view with case id and class legend (app/overlay.h).
  int overlays = 0;
};

struct PredictedCase {
  std::string id;
  std::filesystem::path output;
  std::filesystem::path probabilities;  ///< empty unless asked for
  double seconds = 0;                   ///< read + predict + write
  bool skipped = false;                 ///< ExistingOutputs::Skip kept an earlier prediction
};

struct PredictSummary {
  std::vector<PredictedCase> cases;
  std::vector<std::filesystem::path> checkpoints;  ///< the ensemble's members
  bool tta = false;
  double seconds = 0;
};

/// Runs the prediction (see the top of this file). Errors name the input file, the case or the
/// run; the inputs are checked (channels, readable headers, existing outputs) before the first
/// case is predicted.
PredictSummary run_predict(const PredictOptions& options);

/// Warnings for an input that does not look like what the model was trained on (intensity range
/// vs the plan's normalisation: a CT-trained channel without air below -500 HU, a z-score-trained
/// channel with values below -500); empty when nothing looks wrong. A heuristic: it warns, it does
/// not refuse.
std::vector<std::string> modality_warnings(const io::Volume& image, const data::Plan& plan);

}  // namespace gtgm::app
