#pragma once
/// Overlay PNGs people can read: one slice of a case in radiological display orientation (axial,
/// anterior up, the patient's right on the screen's left), image | image + prediction [| image +
/// reference], with the case id, the slice, per-case Dice and a class legend drawn in the built-in
/// bitmap font (io/bitmap_font.h). Used by `gtgm eval`, `gtgm finetune` (held-out cases) and
/// `gtgm predict --overlays N` (docs/eval.md, docs/predict.md).
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtgm/io/bitmap_font.h"
#include "gtgm/io/volume.h"

namespace gtgm::app {

struct OverlayStyle {
  int size = 256;      ///< side of each image panel in pixels
  int text_scale = 0;  ///< font pixel size; 0 = size / 128 (at least 1)
  /// The volumes carry a patient orientation (medical images): reorient to LPS for display. False
  /// (EM volumes) shows the raw voxel order and calls the slice "slice", never "axial".
  bool patient_space = true;
  std::map<int64_t, std::string> class_names;  ///< label value -> name (dataset.json "labels")
};

/// Per-case Dice of a score summary, as fractions (printed as percentages).
struct OverlayDice {
  double mean = 0;                    ///< foreground mean over the scored classes
  std::map<int64_t, double> classes;  ///< label value -> Dice (NaN = not defined for this case)
};

struct OverlayCase {
  std::string id;
  io::Volume image;       ///< channel 0 is shown, intensity-windowed
  io::Volume prediction;  ///< integer labels on the image's grid
  std::optional<io::Volume> reference;
  std::optional<OverlayDice> dice;  ///< none for `predict` (no reference)
};

/// A panel's place in the rendered image (pixels).
struct PanelRect {
  int x = 0, y = 0, w = 0, h = 0;
};

struct OverlayImage {
  torch::Tensor rgb;               ///< uint8 [H, W, 3]
  std::vector<PanelRect> panels;   ///< image, prediction[, reference]; each style.size square
  PanelRect content;               ///< inside each panel: where the slice lies (aspect kept, centred)
  int64_t display_z = 0;           ///< the slice's index along the display depth axis (LPS: inferior = 0)
  int64_t file_index = 0;          ///< the same slice's index along the source file's voxel axis
  std::string slice_label;         ///< "axial z=NN", "oblique slice z=NN" or "slice z=NN"
  std::vector<std::string> lines;  ///< every text drawn, in order (title, panel names, Dice, legend)
  std::vector<std::pair<int64_t, std::string>> legend;  ///< (label value, name) per swatch
};

/// Renders one case (see the file comment). The slice shown is the one with the most reference
/// foreground (prediction when there is no reference; the middle when both are empty); the
/// in-plane aspect follows the spacing. Throws when the prediction or reference grid differs from
/// the image's, naming the shapes.
OverlayImage render_overlay(const OverlayCase& c, const OverlayStyle& style);

/// Colour of label value `v` in overlays and legends (instance ids get a colour hashed from the id).
io::Rgb label_colour(int64_t v);

}  // namespace gtgm::app
