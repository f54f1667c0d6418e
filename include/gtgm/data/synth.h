#pragma once
/// Synthetic datasets in the real on-disk formats (`gtgm synth`), so every reader, check, planner
/// and loader runs end to end without downloading data (see docs/datasets.md):
///  - CT-like and MRI-like abdominal phantoms as MSD task folders (.nii.gz + dataset.json): a
///    body outline with a fat rim, spine, bowel gas, and organ-like deformed ellipsoids (liver,
///    kidneys, spleen, liver lesions) with distinct intensity and texture; anisotropic spacing;
///    every third case stored with a flipped (non-identity) direction, its voxels flipped so the
///    anatomy stays put in physical space. CT in int16 Hounsfield units, MRI in float32 with a
///    bias field and Rician noise. Lesions and spleen differ from liver by only ~10-35 HU (CT):
///    learnable, not trivial.
///  - EM-like volumes in CREMI HDF5: Voronoi cells elongated along z with wavy dark membranes,
///    mitochondria, section-to-section brightness changes; raw uint8, neuron_ids uint64,
///    resolution (z, y, x) = (40, 4, 4) nm.
/// Everything is a function of the seed: the same seed writes byte-identical voxels (noise comes
/// from data::Rng, not from torch's generator).
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gtgm/io/hdf5_io.h"
#include "gtgm/io/volume.h"

namespace gtgm::data {

struct PhantomOptions {
  std::string modality = "CT";               ///< "CT" or "MRI"
  int num_train = 12;                        ///< labelled cases (imagesTr + labelsTr)
  int num_test = 2;                          ///< unlabelled cases (imagesTs)
  std::array<int64_t, 3> shape{32, 64, 64};  ///< D, H, W in voxels
  uint64_t seed = 42;
  int min_lesions = 0;        ///< liver lesions per case are drawn in [min_lesions, 3]
  double lesion_scale = 1.0;  ///< lesion radius multiplier (1 = the default phantom)
};

/// Label values and names of the phantoms: 0 background, 1 liver, 2 kidney, 3 spleen, 4 lesion.
const std::map<int64_t, std::string>& phantom_labels();

/// One phantom case: image [1, D, H, W] (CT int16 / MRI float32) and label [1, D, H, W] uint8
/// sharing one geometry. Case `index` is a pure function of (options.seed, index).
struct PhantomCase {
  io::Volume image;
  io::Volume label;
};
PhantomCase make_phantom(const PhantomOptions& options, int64_t index);

/// Writes an MSD task folder `dir` (imagesTr/, labelsTr/, imagesTs/, dataset.json) atomically
/// (built beside it and swapped in). Case ids: synthct_000, ... / synthmri_000, ...
void write_phantom_task(const std::filesystem::path& dir, const PhantomOptions& options);

struct EmOptions {
  int num_volumes = 3;                               ///< files sample_A.hdf, sample_B.hdf, ...
  std::array<int64_t, 3> shape{16, 128, 128};        ///< z, y, x voxels
  std::array<double, 3> resolution{40.0, 4.0, 4.0};  ///< z, y, x in nm (CREMI order)
  int num_cells = 40;                                ///< Voronoi seeds per volume
  uint64_t seed = 42;
};

/// One EM volume: raw [1, z, y, x] uint8 and neuron_ids [1, z, y, x] int64 (distinct large ids).
io::CremiVolume make_em_volume(const EmOptions& options, int64_t index);

/// Writes `dir`/sample_A.hdf, ... in the CREMI layout (atomically, as a folder).
void write_em_dataset(const std::filesystem::path& dir, const EmOptions& options);

/// One synthetic stand-in for a Medical Segmentation Decathlon task: the real task's folder name,
/// case prefix, dataset.json "modality" (one entry per channel) and "labels", and how the phantom's
/// tissues (phantom_labels(): 0 background, 1 liver, 2 kidney, 3 spleen, 4 lesion) map onto the
/// task's classes.
struct DecathlonTaskSpec {
  std::string folder;                  ///< "Task03_Liver"
  std::string name;                    ///< dataset.json "name" ("Liver")
  std::string case_prefix;             ///< "liver" -> liver_000.nii.gz
  std::string modality;                ///< phantom kind: "CT" or "MRI"
  std::vector<std::string> channels;   ///< dataset.json "modality" values, in channel order
  std::vector<std::string> labels;     ///< dataset.json "labels" names, index = label value
  std::array<int, 5> tissue_to_class;  ///< phantom label value -> task label value
  int min_lesions = 0;                 ///< see PhantomOptions
  double lesion_scale = 1.0;
};

/// The ten MSD tasks (Task01_BrainTumour .. Task10_Colon) with the real tasks' channels and classes.
const std::vector<DecathlonTaskSpec>& decathlon_tasks();
/// The spec of `folder` (e.g. "Task05_Prostate"); throws listing the valid names.
const DecathlonTaskSpec& decathlon_task(const std::string& folder);

/// One case of a stand-in task: image [C, D, H, W] (C = spec.channels.size(); channel 0 is the
/// phantom, further channels re-contrast its tissues with their own gains and noise; a channel's
/// contrast depends on the task and seed only, the same in every case) and label
/// [1, D, H, W] uint8 with values in [0, spec.labels.size()).
PhantomCase make_decathlon_case(const DecathlonTaskSpec& spec, const PhantomOptions& options, int64_t index);

/// Writes `dir` as an MSD task folder for `spec` (imagesTr/, labelsTr/, imagesTs/, dataset.json
/// with the MSD fields: name, description, reference, licence, release, tensorImageSize,
/// modality, labels, numTraining, numTest, training, test), atomically. options.modality is
/// ignored (the spec decides).
void write_decathlon_task(const std::filesystem::path& dir, const DecathlonTaskSpec& spec,
                          const PhantomOptions& options);

/// What `gtgm synth --suite demo13` writes: stand-ins for the 13 datasets of the paper's table.
struct Demo13Options {
  std::filesystem::path out;
  std::vector<std::string> only;  ///< dataset names to write (Task03_Liver, CREMI_A, ...); empty = all 13
  PhantomOptions phantom{"CT", 8, 1, {24, 48, 48}, 42};
  EmOptions em{1, {20, 64, 64}, {40.0, 4.0, 4.0}, 24, 42};
};

/// The 13 dataset names of the demo suite: Task01_BrainTumour .. Task10_Colon, CREMI_A, CREMI_B,
/// CREMI_C.
std::vector<std::string> demo13_names();

/// Writes `out`/Task01_BrainTumour .. `out`/Task10_Colon (MSD task folders) and `out`/cremi/A,
/// `out`/cremi/B, `out`/cremi/C (one CREMI HDF5 volume each: sample_A.hdf, ...). Each dataset's
/// seed is derived from the one seed and its name, so datasets differ and writing a subset gives
/// the same bytes as writing all. Returns the folders written.
std::vector<std::filesystem::path> write_demo13(const Demo13Options& options);

/// What `gtgm synth` writes under `out`.
struct SynthOptions {
  std::filesystem::path out;
  std::vector<std::string> kinds{"ct", "mri", "em"};  ///< any of ct, mri, em
  PhantomOptions phantom;                             ///< modality is set per kind
  EmOptions em;
};

/// Writes the requested datasets: `out`/Task01_SynthCT, `out`/Task02_SynthMRI (MSD) and
/// `out`/cremi_synth (CREMI). Returns the folders written. Seeds of the kinds are derived from
/// the one seed, so CT and MRI cases differ.
std::vector<std::filesystem::path> run_synth(const SynthOptions& options);

}  // namespace gtgm::data
