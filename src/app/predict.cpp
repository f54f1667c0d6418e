#include "gtgm/app/predict.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "gtgm/app/load_predictor.h"
#include "gtgm/app/overlay.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/data/manifest.h"
#include "gtgm/data/spatial.h"
#include "gtgm/infer/predict.h"
#include "gtgm/io/checks.h"
#include "gtgm/io/dicom_io.h"
#include "gtgm/io/png.h"
#include "gtgm/io/volume_io.h"

namespace gtgm::app {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The extension a prediction of `file` is written with: the file's own, .nii.gz for DICOM.
std::string output_extension(const fs::path& file) {
  if (fs::is_directory(file) || file.extension() == ".dcm" || !io::has_volume_extension(file)) return ".nii.gz";
  const std::string name = file.filename().string();
  return name.substr(io::strip_volume_extension(file).size());
}

// "<case>_XXXX" -> {"<case>", XXXX}; nullopt when the id has no 4-digit channel suffix.
std::optional<std::pair<std::string, int>> channel_suffix(const std::string& id) {
  if (id.size() < 6 || id[id.size() - 5] != '_') return std::nullopt;
  const std::string digits = id.substr(id.size() - 4);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::make_pair(id.substr(0, id.size() - 5), std::stoi(digits));
}

// "a/b/" and "a/b" -> "b".
std::string folder_name(const fs::path& folder) {
  fs::path p = fs::absolute(folder).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

bool is_dicom_series_folder(const fs::path& folder) { return !io::list_dicom_series(folder).empty(); }

// The cases of a folder's volume files: nnU-Net channel files grouped, else one case per file.
std::vector<PredictCase> cases_of_files(const std::vector<fs::path>& files, int64_t channels) {
  std::map<std::string, std::map<int, fs::path>> groups;
  bool nnunet = !files.empty();
  for (const fs::path& f : files) {
    const auto s = channel_suffix(io::strip_volume_extension(f));
    if (!s) {
      nnunet = false;
      break;
    }
    groups[s->first][s->second] = f;
  }
  for (const auto& [id, g] : groups) nnunet = nnunet && g.count(0) == 1;
  std::vector<PredictCase> out;
  if (!nnunet) {
    for (const fs::path& f : files) out.push_back({io::strip_volume_extension(f), {f}, output_extension(f)});
    return out;
  }
  for (const auto& [id, g] : groups) {
    std::vector<std::string> missing, extra;
    for (int64_t c = 0; c < channels; ++c)
      if (g.count(static_cast<int>(c)) == 0) missing.push_back(fmt::format("{}_{:04d}", id, c));
    for (const auto& [c, f] : g)
      if (c >= channels) extra.push_back(f.filename().string());
    GTGM_CHECK(missing.empty() && extra.empty(),
               "predict: case {} (nnU-Net channel files {}_XXXX in {}) has {} channel file(s); the model was trained "
               "on {} channel(s), _0000 to _{:04d}{}{}",
               id, id, g.begin()->second.parent_path().string(), g.size(), channels, channels - 1,
               missing.empty() ? "" : fmt::format("; missing: {}", fmt::join(missing, ", ")),
               extra.empty() ? "" : fmt::format("; not used by the model: {}", fmt::join(extra, ", ")));
    PredictCase c{id, {}, output_extension(g.begin()->second)};
    for (const auto& [k, f] : g) c.files.push_back(f);
    out.push_back(std::move(c));
  }
  return out;
}

// Reads a case: its channel files concatenated (each must be single-channel, on one grid).
io::Volume read_case(const PredictCase& c) {
  if (c.files.size() == 1) return io::read_volume(c.files[0]);
  io::ReadOptions single;
  single.require_3d = true;
  io::Volume first = io::read_volume(c.files[0], single);
  std::vector<torch::Tensor> parts{first.data.to(torch::kFloat)};
  for (size_t i = 1; i < c.files.size(); ++i) {
    const io::Volume v = io::read_volume(c.files[i], single);
    const std::string mismatch = io::geometry_mismatch(first, v);
    GTGM_CHECK(mismatch.empty() && v.data.sizes() == first.data.sizes(),
               "predict: case {}: channel file {} is not on the grid of {} (shape {} vs {}{}{})", c.id,
               c.files[i].string(), c.files[0].string(), v.data.sizes(), first.data.sizes(),
               mismatch.empty() ? "" : "; ", mismatch);
    parts.push_back(v.data.to(torch::kFloat));
  }
  first.data = torch::cat(parts, 0);
  first.stored_dtype = "float32";
  first.source = c.files[0].string();
  return first;
}

// Channels of a case as its headers say (checked before anything is predicted).
int64_t header_channels(const PredictCase& c) {
  if (c.files.size() > 1) return static_cast<int64_t>(c.files.size());
  return io::read_volume_header(c.files[0]).channels;
}

std::string describe(const PredictCase& c) {
  return c.files.size() == 1 ? c.files[0].string()
                             : fmt::format("{} ({} channel files)", c.files[0].string(), c.files.size());
}

}  // namespace

std::vector<PredictCase> find_predict_cases(const fs::path& input, int64_t channels) {
  GTGM_CHECK(fs::exists(input),
             "predict: input {} does not exist (expected a volume file, a DICOM series folder or "
             "a folder of volumes)",
             input.string());
  if (!fs::is_directory(input)) {
    GTGM_CHECK(io::has_volume_extension(input),
               "predict: input {} has no volume extension (.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd, .tif, .tiff, "
               ".dcm, .h5, .hdf, .hdf5)",
               input.string());
    return {{io::strip_volume_extension(input), {input}, output_extension(input)}};
  }
  std::vector<fs::path> files, series;
  for (const auto& e : fs::directory_iterator(input)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (e.is_directory()) {
      if (is_dicom_series_folder(e.path())) series.push_back(e.path());
    } else if (io::has_volume_extension(e.path()) && e.path().extension() != ".dcm") {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::sort(series.begin(), series.end());
  // A folder of DICOM slices (and nothing else gtgm reads) is one series.
  if (files.empty() && series.empty() && is_dicom_series_folder(input))
    return {{folder_name(input), {input}, ".nii.gz"}};
  std::vector<PredictCase> out = cases_of_files(files, channels);
  for (const fs::path& s : series) out.push_back({s.filename().string(), {s}, ".nii.gz"});
  GTGM_CHECK(!out.empty(),
             "predict: {} holds no volume files (.nii.gz, .nrrd, .mha, .h5, ...), DICOM series subfolders or DICOM "
             "slices",
             input.string());
  std::sort(out.begin(), out.end(), [](const PredictCase& a, const PredictCase& b) { return a.id < b.id; });
  for (size_t i = 1; i < out.size(); ++i) {
    GTGM_CHECK(out[i].id != out[i - 1].id, "predict: two images in {} have the case id {}: {} and {}", input.string(),
               out[i].id, describe(out[i - 1]), describe(out[i]));
  }
  return out;
}

std::vector<std::string> modality_warnings(const io::Volume& image, const data::Plan& plan) {
  std::vector<std::string> out;
  const int64_t n = std::min<int64_t>(image.channels(), static_cast<int64_t>(plan.normalization.size()));
  for (int64_t c = 0; c < n; ++c) {
    const double lo = image.data[c].min().item<double>();
    const data::NormScheme scheme = plan.normalization[static_cast<size_t>(c)].scheme;
    if (scheme == data::NormScheme::CT && lo > -500) {
      out.push_back(fmt::format(
          "{}: channel {} was normalised as CT (Hounsfield units) in training, but its lowest value is {:.4g} (a CT "
          "in HU holds air below -500): if this is not a CT in HU, the prediction is meaningless",
          image.source, c, lo));
    } else if (scheme == data::NormScheme::ZScore && lo < -500) {
      out.push_back(fmt::format(
          "{}: channel {} was z-score normalised in training (MRI-like), but its lowest value is {:.4g}, as in a "
          "CT in HU: check that the model was trained on this modality",
          image.source, c, lo));
    }
  }
  return out;
}

PredictSummary run_predict(const PredictOptions& options) {
  const Clock::time_point start = Clock::now();
  const std::vector<fs::path> runs = expand_model_dirs(options.models);
  const LoadedEnsemble ensemble = load_ensemble(runs, options.device, options.tta);
  const infer::Predictor& predictor = ensemble.predictor;
  GTGM_CHECK(predictor.plan().has_value(),
             "predict: {} has no plan.json (nor does its cache {}): the preprocessing the model was trained with is "
             "unknown",
             runs.front().string(), ensemble.members.front().config.data.cache_dir);
  const data::Plan& plan = *predictor.plan();
  const int64_t channels = std::max<int64_t>(1, static_cast<int64_t>(plan.normalization.size()));
  const std::vector<PredictCase> cases = find_predict_cases(options.input, channels);

  // Where each prediction goes: OUTPUT/<id><ext>, or OUTPUT itself for one image named as a file.
  const bool output_is_file = cases.size() == 1 && !fs::is_directory(options.output) &&
                              io::has_volume_extension(options.output) && !fs::is_directory(options.input);
  const fs::path out_dir = output_is_file ? options.output.parent_path() : options.output;
  GTGM_CHECK(!fs::exists(out_dir) || fs::is_directory(out_dir), "predict: output {} exists and is not a folder",
             out_dir.string());
  std::vector<fs::path> outputs, probs;
  for (const PredictCase& c : cases) {
    outputs.push_back(output_is_file ? options.output : out_dir / (c.id + c.extension));
    probs.push_back(out_dir / "probabilities" /
                    (output_is_file ? io::strip_volume_extension(options.output) + ".nii.gz" : c.id + ".nii.gz"));
  }

  // Checks before the first case: channels in each header, outputs already there.
  for (const PredictCase& c : cases) {
    const int64_t got = header_channels(c);
    GTGM_CHECK(got == channels,
               "predict: {} has {} channel(s); the model ({}) was trained on {} (plan.json normalization{})",
               describe(c), got, runs.front().string(), channels,
               channels > 1 ? "; give one 4D file or nnU-Net channel files CASE_0000.. per case" : "");
  }
  std::vector<std::string> existing;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (fs::exists(outputs[i])) existing.push_back(outputs[i].string());
  }
  GTGM_CHECK(existing.empty() || options.existing != ExistingOutputs::Refuse,
             "predict: {} prediction(s) already exist (first: {}); pass --overwrite to replace them or --continue to "
             "keep them and predict the rest",
             existing.size(), existing.empty() ? std::string() : existing.front());
  fs::create_directories(out_dir);
  if (options.save_probabilities) fs::create_directories(out_dir / "probabilities");

  PredictSummary summary;
  summary.tta = predictor.options().window.mirror_tta;
  for (const LoadedPredictor& m : ensemble.members) summary.checkpoints.push_back(m.checkpoint);
  GTGM_INFO("predict: {} case(s) from {} with {} model(s){}{}", cases.size(), options.input.string(),
            predictor.members(), summary.tta ? ", mirror TTA" : "",
            options.save_probabilities ? ", saving probabilities" : "");
  OverlayStyle overlay_style;
  int overlays_left = std::max(0, options.overlays);
  if (overlays_left > 0) {
    const config::DataConfig& data_cfg = ensemble.members.front().config.data;
    overlay_style.patient_space = data_cfg.format != config::DataFormat::CREMI;
    try {
      overlay_style.class_names = data::load_manifest(data_cfg).labels;
    } catch (const std::exception& e) {
      GTGM_WARN(
          "predict: no class names for the overlay legends (the training dataset.json at {} is not readable: "
          "{}); classes are named by value",
          data_cfg.root, e.what());
    }
    fs::create_directories(out_dir / "overlays");
  }
  torch::NoGradGuard no_grad;
  double predicted_seconds = 0;
  size_t predicted = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const PredictCase& c = cases[i];
    PredictedCase r{c.id, outputs[i], options.save_probabilities ? probs[i] : fs::path(), 0, false};
    const bool done = fs::exists(outputs[i]) && (!options.save_probabilities || fs::exists(probs[i]));
    if (done && options.existing == ExistingOutputs::Skip) {
      r.skipped = true;
      GTGM_INFO("[{}/{}] {}: kept {}", i + 1, cases.size(), c.id, outputs[i].string());
      summary.cases.push_back(r);
      continue;
    }
    const Clock::time_point t = Clock::now();
    const io::Volume image = read_case(c);
    for (const std::string& w : modality_warnings(image, plan)) GTGM_WARN("{}", w);
    const infer::Prediction p = predictor.predict(image, options.save_probabilities);
    infer::write_prediction(p.labels, outputs[i]);
    if (overlays_left > 0) {
      OverlayCase oc;
      oc.id = c.id;
      oc.image = image;
      oc.image.data = image.data.slice(0, 0, 1);
      oc.prediction = p.labels;
      const fs::path png = out_dir / "overlays" / (c.id + ".png");
      core::atomic_write_text(png, io::encode_png(render_overlay(oc, overlay_style).rgb));
      --overlays_left;
    }
    if (options.save_probabilities) {
      io::Volume prob = data::restore_to_source(p.probabilities, p.grid, data::RestoreInterp::Linear, 0.0);
      io::WriteOptions w;
      w.dtype = "float32";
      io::write_volume(prob, probs[i], w);
    }
    r.seconds = seconds_since(t);
    predicted_seconds += r.seconds;
    ++predicted;
    const size_t left = cases.size() - i - 1;
    GTGM_INFO("[{}/{}] {} -> {} ({:.1f} s; ETA {:.0f} s)", i + 1, cases.size(), c.id, outputs[i].string(), r.seconds,
              predicted_seconds / static_cast<double>(predicted) * static_cast<double>(left));
    summary.cases.push_back(r);
  }
  summary.seconds = seconds_since(start);

  nlohmann::json j;
  j["input"] = options.input.string();
  for (const fs::path& ck : summary.checkpoints) j["checkpoints"].push_back(ck.string());
  j["mirror_tta"] = summary.tta;
  j["ensemble"] = "mean of the members' probabilities (softmax; sigmoid for affinities)";
  j["device"] = options.device.str();
  for (const PredictedCase& r : summary.cases) {
    nlohmann::json e{{"id", r.id}, {"output", r.output.string()}, {"seconds", r.seconds}, {"skipped", r.skipped}};
    if (!r.probabilities.empty()) e["probabilities"] = r.probabilities.string();
    j["cases"].push_back(e);
  }
  j["seconds"] = summary.seconds;
  core::atomic_write_text(out_dir / "predict.json", j.dump(2) + "\n");
  return summary;
}

}  // namespace gtgm::app
