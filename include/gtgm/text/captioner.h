#pragma once
/// Captioners: what `gtgm caption` asks to describe each view. The template captioner writes
/// medical-style sentences from what the voxels show (modality, location and extent, intensity
/// statistics, spacing) without any label; the OpenAI-compatible one (openai_client.h) asks a
/// vision-language model about the rendered PNG.
#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>

#include "gtgm/config/data_config.h"
#include "gtgm/config/text_config.h"
#include "gtgm/io/volume.h"
#include "gtgm/text/caption_cache.h"

namespace gtgm::text {

/// Facts about a whole volume, computed once before its positions are captioned.
struct VolumeInfo {
  config::Modality modality = config::Modality::CT;
  std::array<int64_t, 3> shape{};  ///< {D, H, W}
  io::Geometry geometry;
  double p01 = 0, p05 = 0, p20 = 0, p50 = 0, p90 = 0, p99 = 0;  ///< intensity percentiles (sampled)
};

/// Guesses the modality (unless `modality` is CT/MRI/EM): CT when values look like Hounsfield
/// units (min <= -500, max >= 300); EM for 8-bit volumes whose slice spacing is >= 4x the
/// in-plane spacing; else MRI. `volume` is [D, H, W].
VolumeInfo describe_volume(const torch::Tensor& volume, const io::Geometry& geometry, config::CaptionModality modality);

/// One view to caption.
struct SliceView {
  std::string volume_id;
  VoxelPosition position{};
  const torch::Tensor* volume = nullptr;  ///< [D, H, W], the source values (float)
  const VolumeInfo* info = nullptr;
  std::array<int64_t, 4> patch{};  ///< in-plane bounds [y0, y1, x0, x1] on slice z
  torch::Tensor image;             ///< rendered uint8 [S, S] (what a VLM sees)
};

class Captioner {
 public:
  virtual ~Captioner() = default;
  /// One caption (non-empty) for the view; thread-safe.
  virtual std::string caption(const SliceView& view) = 0;
  /// Stored with each record: "template", "openai:<model>".
  virtual std::string generator() const = 0;
  /// Hash of the prompt ("" when there is none).
  virtual std::string prompt_hash() const { return ""; }
  /// Requests in flight at once.
  virtual int concurrency() const { return 1; }
};

/// The label-free template captioner (deterministic: same view -> same text).
class TemplateCaptioner : public Captioner {
 public:
  std::string caption(const SliceView& view) override;
  std::string generator() const override { return "template"; }
};

/// Builds the captioner `cfg.type` names (openai reads its API key from the environment here).
std::unique_ptr<Captioner> make_captioner(const config::CaptionerConfig& cfg);

}  // namespace gtgm::text
