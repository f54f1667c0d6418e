#pragma once
/// `gtgm probe RUN_DIR --config CFG`: what a pretrained encoder learned, beside a randomly
/// initialised one of the same config (docs/probe.md). On crops drawn from the config's
/// preprocessing cache with the probe's own seed (not the crops pretraining saw, though from the
/// same volumes): image->text and text->image retrieval through the projection heads, a linear
/// probe of each crop's majority label on the frozen pooled features E, the effective rank and the
/// per-dimension spread of E (collapse check).
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/infer/representation.h"

namespace gtgm::app {

struct ProbeOptions {
  int64_t crops = 128;               ///< crops drawn (whole batches of data.batch_size, cut to this)
  std::optional<int64_t> seed;       ///< crop sampling and probe split; default run.seed + 1
  int64_t probe_steps = 300;         ///< L-BFGS iterations of the linear probe
  double train_fraction = 0.5;       ///< crops that train the probe; the rest test it
  std::vector<int64_t> ks = {1, 5};  ///< retrieval top-k
};

/// The diagnostics of one encoder.
struct EncoderProbe {
  std::string name;                                 ///< "pretrained" or "random"
  std::optional<infer::RetrievalResult> retrieval;  ///< nullopt without text (loss.vlp_weight = 0)
  std::optional<infer::LinearProbeResult> probe;    ///< nullopt without >= 2 label classes among the crops
  double effective_rank = 0;
  infer::SpreadSummary spread;
};

struct ProbeReport {
  std::string run_dir, checkpoint;
  int64_t step = 0;
  int64_t crops = 0;
  uint64_t seed = 0;
  int64_t captions = 0;               ///< distinct captions among the crops
  std::map<int64_t, int64_t> labels;  ///< majority label -> crops (empty when the data has no labels)
  std::string probe_note;             ///< why there is no linear probe, when there is none
  std::string text_source;
  std::vector<EncoderProbe> encoders;  ///< pretrained, random
};

/// Runs the probe (see the file comment). Throws naming the run dir when it holds no valid
/// checkpoint, and as PretrainTask does for a config whose data/text do not load.
ProbeReport run_probe(const std::filesystem::path& run_dir, const config::Config& cfg, const ProbeOptions& options);

/// The side-by-side table printed by `gtgm probe`.
std::string format_probe_text(const ProbeReport& report);
/// `gtgm probe --json` (schema "gtgm-probe/1").
nlohmann::json probe_json(const ProbeReport& report);

/// The majority value of `label` [D, H, W] inside the box from `corner` to 2 * centre - corner
/// (inclusive, clipped to the volume): the crop a pretraining batch describes by its corner and
/// centre in source voxels. Ties go to the smaller label.
int64_t majority_label(const torch::Tensor& label, const std::array<int64_t, 3>& corner,
                       const std::array<int64_t, 3>& centre);

}  // namespace gtgm::app
