#include "gtgm/data/manifest.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"
#include "gtgm/io/hdf5_io.h"

namespace gtgm::data {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json read_json(const fs::path& file) {
  GTGM_CHECK(fs::exists(file), "{}: no such file (expected the dataset's dataset.json)", file.string());
  try {
    return json::parse(core::read_text_file(file));
  } catch (const json::exception& e) {
    GTGM_THROW("{}: invalid JSON: {}", file.string(), e.what());
  }
}

// Missing files are collected and reported together.
void require_existing(const std::vector<std::string>& missing, const fs::path& where) {
  if (missing.empty()) return;
  std::vector<std::string> shown(missing.begin(),
                                 missing.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(missing.size(), 10)));
  GTGM_THROW("{}: {} listed file(s) do not exist: {}{}", where.string(), missing.size(), fmt::join(shown, ", "),
             missing.size() > shown.size() ? ", ..." : "");
}

int64_t parse_label_value(const std::string& s, const fs::path& file) {
  try {
    size_t pos = 0;
    const long long v = std::stoll(s, &pos);
    if (pos == s.size()) return v;
  } catch (const std::exception&) {
  }
  GTGM_THROW("{}: label key '{}' is not an integer (expected \"labels\": {{\"0\": \"background\", ...}})",
             file.string(), s);
}

// {"0": "CT", "1": "T2"} -> ["CT", "T2"] in index order.
std::vector<std::string> channel_list(const json& j, const fs::path& file, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key)) return out;
  GTGM_CHECK(j[key].is_object(), "{}: \"{}\" must be an object {{\"0\": \"CT\", ...}}", file.string(), key);
  std::map<int64_t, std::string> by_index;
  for (const auto& [k, v] : j[key].items()) {
    GTGM_CHECK(v.is_string(), "{}: \"{}\".\"{}\" must be a string", file.string(), key, k);
    by_index[parse_label_value(k, file)] = v.get<std::string>();
  }
  int64_t expect = 0;
  for (const auto& [i, name] : by_index) {
    GTGM_CHECK(i == expect, "{}: \"{}\" must number channels 0, 1, 2, ... (found {})", file.string(), key, i);
    out.push_back(name);
    ++expect;
  }
  return out;
}

void sort_cases(std::vector<CaseEntry>& cases, const fs::path& where) {
  std::sort(cases.begin(), cases.end(), [](const CaseEntry& a, const CaseEntry& b) { return a.id < b.id; });
  for (size_t i = 1; i < cases.size(); ++i) {
    GTGM_CHECK(cases[i].id != cases[i - 1].id, "{}: case id '{}' appears twice ({} and {})", where.string(),
               cases[i].id, cases[i - 1].images.empty() ? "" : cases[i - 1].images[0],
               cases[i].images.empty() ? "" : cases[i].images[0]);
  }
}

// Glob matching with `**` spanning path separators.
bool match_from(const std::string& p, size_t pi, const std::string& s, size_t si) {
  while (pi < p.size()) {
    if (p.compare(pi, 2, "**") == 0) {
      size_t next = pi + 2;
      if (next < p.size() && p[next] == '/') ++next;  // "**/" also matches zero folders
      for (size_t k = si; k <= s.size(); ++k)
        if (match_from(p, next, s, k)) return true;
      return false;
    }
    if (p[pi] == '*') {
      for (size_t k = si; k <= s.size(); ++k) {
        if (match_from(p, pi + 1, s, k)) return true;
        if (k < s.size() && s[k] == '/') break;
      }
      return false;
    }
    if (si >= s.size()) return false;
    if (p[pi] == '?') {
      if (s[si] == '/') return false;
    } else if (p[pi] != s[si]) {
      return false;
    }
    ++pi;
    ++si;
  }
  return si == s.size();
}

}  // namespace

std::vector<int64_t> Manifest::label_values() const {
  std::vector<int64_t> v;
  for (const auto& [k, name] : labels) v.push_back(k);
  return v;
}

std::vector<io::CaseFiles> Manifest::case_files() const {
  std::vector<io::CaseFiles> out;
  for (const auto& c : training) out.push_back({c.id, c.images, c.label});
  return out;
}

std::vector<CaseEntry> Manifest::select(const std::vector<std::string>& wanted) const {
  std::map<std::string, const CaseEntry*> by_id;
  for (const auto& c : training) by_id[c.id] = &c;
  std::vector<CaseEntry> out;
  for (const auto& id : wanted) {
    auto it = by_id.find(id);
    GTGM_CHECK(it != by_id.end(), "{}: no training case with id '{}'", root.string(), id);
    out.push_back(*it->second);
  }
  return out;
}

std::vector<std::string> Manifest::listed_ids() const { return listed.empty() ? ids() : listed; }

std::vector<std::string> Manifest::ids() const {
  std::vector<std::string> out;
  for (const auto& c : training) out.push_back(c.id);
  return out;
}

fs::path resolve_in_root(const fs::path& root, const std::string& rel, bool allow_outside_root,
                         const std::string& what) {
  const fs::path base = root.lexically_normal();
  const fs::path p = (fs::path(rel).is_absolute() ? fs::path(rel) : base / rel).lexically_normal();
  if (!allow_outside_root) {
    const auto r = p.lexically_relative(base);
    const bool inside = !r.empty() && *r.begin() != ".." && !r.is_absolute();
    GTGM_CHECK(inside,
               "{}: path '{}' resolves to {}, outside the dataset root {} (refused; set "
               "data.allow_outside_root: true to allow it)",
               what, rel, p.string(), base.string());
  }
  return p;
}

bool glob_match(const std::string& pattern, const std::string& path) { return match_from(pattern, 0, path, 0); }

Manifest load_msd(const fs::path& root, const ManifestOptions& options) {
  const fs::path file = root / "dataset.json";
  const json j = read_json(file);
  Manifest m;
  m.format = "msd";
  m.root = root;
  m.name = j.value("name", root.filename().string());
  m.channel_names = channel_list(j, file, "modality");
  if (j.contains("labels")) {
    GTGM_CHECK(j["labels"].is_object(), "{}: \"labels\" must be an object {{\"0\": \"background\", ...}}",
               file.string());
    for (const auto& [k, v] : j["labels"].items()) {
      GTGM_CHECK(v.is_string(),
                 "{}: \"labels\".\"{}\" must be a name string (MSD style; nnU-Net v2 files use "
                 "data.format: nnunet)",
                 file.string(), k);
      m.labels[parse_label_value(k, file)] = v.get<std::string>();
    }
  }
  GTGM_CHECK(j.contains("training") && j["training"].is_array(),
             "{}: expected a \"training\" list of {{\"image\": ..., \"label\": ...}} entries", file.string());
  std::vector<std::string> missing;
  auto resolve = [&](const json& v, const std::string& what) {
    GTGM_CHECK(v.is_string(), "{}: {} must be a path string, found {}", file.string(), what, v.dump());
    const auto p = resolve_in_root(root, v.get<std::string>(), options.allow_outside_root, file.string());
    if (options.require_files && !fs::exists(p)) missing.push_back(p.string());
    return p.string();
  };
  for (size_t i = 0; i < j["training"].size(); ++i) {
    const auto& e = j["training"][i];
    const std::string what = fmt::format("training[{}]", i);
    GTGM_CHECK(e.is_object() && e.contains("image"), "{}: {} must be an object with \"image\" (and \"label\")",
               file.string(), what);
    CaseEntry c;
    c.images.push_back(resolve(e["image"], what + ".image"));
    if (e.contains("label") && !e["label"].is_null()) c.label = resolve(e["label"], what + ".label");
    c.id = io::strip_volume_extension(c.images[0]);
    m.training.push_back(std::move(c));
  }
  if (j.contains("test") && j["test"].is_array()) {
    for (size_t i = 0; i < j["test"].size(); ++i) {
      const auto& e = j["test"][i];
      CaseEntry c;
      // Some task files list {"image": ...} objects instead of plain paths.
      c.images.push_back(resolve(e.is_object() && e.contains("image") ? e["image"] : e, fmt::format("test[{}]", i)));
      c.id = io::strip_volume_extension(c.images[0]);
      m.test.push_back(std::move(c));
    }
  }
  require_existing(missing, file);
  for (const auto& c : m.training) m.listed.push_back(c.id);
  sort_cases(m.training, file);
  sort_cases(m.test, file);
  return m;
}

Manifest load_nnunet(const fs::path& root, const ManifestOptions& options) {
  const fs::path file = root / "dataset.json";
  const json j = read_json(file);
  Manifest m;
  m.format = "nnunet";
  m.root = root;
  m.name = j.value("name", root.filename().string());
  m.channel_names = channel_list(j, file, j.contains("channel_names") ? "channel_names" : "modality");
  GTGM_CHECK(!m.channel_names.empty(), "{}: expected \"channel_names\": {{\"0\": \"CT\", ...}}", file.string());
  GTGM_CHECK(j.contains("labels") && j["labels"].is_object(), "{}: expected \"labels\": {{\"background\": 0, ...}}",
             file.string());
  for (const auto& [name, v] : j["labels"].items()) {
    GTGM_CHECK(v.is_number_integer(),
               "{}: label '{}' maps to {}; expected an integer (region-based labels "
               "[1, 2, ...] are not supported)",
               file.string(), name, v.dump());
    const auto value = v.get<int64_t>();
    GTGM_CHECK(!m.labels.count(value), "{}: label value {} is used twice ('{}' and '{}')", file.string(), value,
               m.labels[value], name);
    m.labels[value] = name;
  }
  m.file_ending = j.value("file_ending", ".nii.gz");
  const auto nch = m.channel_names.size();

  // imagesTr/CASE_XXXX<ending> grouped by CASE; every channel and the label must be present.
  auto scan = [&](const fs::path& folder, bool labelled, std::vector<CaseEntry>& out) {
    std::map<std::string, std::map<size_t, std::string>> channels;
    std::vector<std::string> errors;
    const std::regex channel_re("^(.+)_(\\d{4})$");
    for (const auto& e : fs::directory_iterator(folder)) {
      const auto name = e.path().filename().string();
      if (!e.is_regular_file() || name.front() == '.') continue;
      if (name.size() <= m.file_ending.size() ||
          name.compare(name.size() - m.file_ending.size(), m.file_ending.size(), m.file_ending) != 0) {
        errors.push_back(fmt::format("{} does not end with file_ending '{}'", e.path().string(), m.file_ending));
        continue;
      }
      std::smatch mm;
      const std::string stem = name.substr(0, name.size() - m.file_ending.size());
      if (!std::regex_match(stem, mm, channel_re)) {
        errors.push_back(
            fmt::format("{} is not named CASE_XXXX{} (4-digit channel index)", e.path().string(), m.file_ending));
        continue;
      }
      const size_t ch = std::stoul(mm[2].str());
      if (ch >= nch) {
        errors.push_back(
            fmt::format("{}: channel {:04d}, but dataset.json declares {} channel(s)", e.path().string(), ch, nch));
        continue;
      }
      channels[mm[1].str()][ch] = e.path().string();
    }
    for (const auto& [id, files] : channels) {
      CaseEntry c;
      c.id = id;
      for (size_t ch = 0; ch < nch; ++ch) {
        auto it = files.find(ch);
        if (it == files.end()) {
          errors.push_back(fmt::format("case {} lacks channel file {}_{:04d}{}", id, id, ch, m.file_ending));
        } else {
          c.images.push_back(it->second);
        }
      }
      if (labelled) {
        const fs::path label = root / "labelsTr" / (id + m.file_ending);
        if (fs::exists(label)) {
          c.label = label.string();
        } else {
          errors.push_back(fmt::format("case {} has no label {}", id, label.string()));
        }
      }
      out.push_back(std::move(c));
    }
    if (!errors.empty()) {
      std::vector<std::string> shown(errors.begin(),
                                     errors.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(errors.size(), 10)));
      GTGM_THROW("{}: {} problem(s) in the nnU-Net layout (expected imagesTr/CASE_XXXX{} and labelsTr/CASE{}):\n  {}{}",
                 root.string(), errors.size(), m.file_ending, m.file_ending, fmt::join(shown, "\n  "),
                 errors.size() > shown.size() ? "\n  ..." : "");
    }
  };
  GTGM_CHECK(fs::is_directory(root / "imagesTr"),
             "{}: no imagesTr/ folder (expected the nnU-Net raw layout "
             "imagesTr/, labelsTr/, dataset.json)",
             root.string());
  scan(root / "imagesTr", true, m.training);
  if (fs::is_directory(root / "imagesTs")) scan(root / "imagesTs", false, m.test);
  sort_cases(m.training, root);
  sort_cases(m.test, root);
  if (j.contains("numTraining") && j["numTraining"].is_number_integer()) {
    GTGM_CHECK(j["numTraining"].get<int64_t>() == static_cast<int64_t>(m.training.size()),
               "{}: numTraining is {} but imagesTr holds {} case(s)", file.string(), j["numTraining"].get<int64_t>(),
               m.training.size());
  }
  (void)options;
  return m;
}

Manifest load_cremi(const fs::path& root_or_list, const ManifestOptions& options) {
  Manifest m;
  m.format = "cremi";
  m.channel_names = {"EM"};
  std::vector<fs::path> files;
  if (fs::is_directory(root_or_list)) {
    m.root = root_or_list;
    for (const auto& e : fs::directory_iterator(root_or_list)) {
      const auto n = e.path().filename().string();
      if (e.is_regular_file() && n.front() != '.' && io::split_hdf5_path(n) && io::split_hdf5_path(n)->second.empty())
        files.push_back(e.path());
    }
    GTGM_CHECK(!files.empty(), "{}: no HDF5 file (.hdf, .h5, .hdf5) in this folder (expected CREMI files)",
               root_or_list.string());
  } else {
    GTGM_CHECK(fs::exists(root_or_list),
               "{}: no such folder or file list (expected a folder of CREMI HDF5 files "
               "or a text file listing them)",
               root_or_list.string());
    m.root = root_or_list.parent_path();
    std::ifstream in(root_or_list);
    std::vector<std::string> missing;
    for (std::string line; std::getline(in, line);) {
      line.erase(0, line.find_first_not_of(" \t"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (line.empty() || line[0] == '#') continue;
      const auto p = resolve_in_root(m.root, line, options.allow_outside_root, root_or_list.string());
      if (options.require_files && !fs::exists(p)) missing.push_back(p.string());
      files.push_back(p);
    }
    require_existing(missing, root_or_list);
    GTGM_CHECK(!files.empty(), "{}: the file list names no file", root_or_list.string());
  }
  m.name = m.root.filename().string();
  for (const auto& f : files) {
    CaseEntry c;
    c.id = io::strip_volume_extension(f);
    c.images.push_back(f.string() + ":volumes/raw");
    if (options.require_files) {
      const auto names = io::list_hdf5_datasets(f);
      GTGM_CHECK(std::find(names.begin(), names.end(), "volumes/raw") != names.end(),
                 "{}: no volumes/raw dataset (expected the CREMI layout; datasets present: {})", f.string(),
                 fmt::join(names, ", "));
      if (std::find(names.begin(), names.end(), "volumes/labels/neuron_ids") != names.end())
        c.label = f.string() + ":volumes/labels/neuron_ids";
    } else {
      c.label = f.string() + ":volumes/labels/neuron_ids";
    }
    m.training.push_back(std::move(c));
  }
  sort_cases(m.training, root_or_list);
  return m;
}

Manifest load_glob(const fs::path& root, const ManifestOptions& options) {
  GTGM_CHECK(fs::is_directory(root), "{}: not a folder (expected the folder holding the volumes)", root.string());
  GTGM_CHECK(options.pattern.find("..") == std::string::npos || options.allow_outside_root,
             "{}: pattern '{}' leaves the dataset root (refused)", root.string(), options.pattern);
  Manifest m;
  m.format = "glob";
  m.root = root;
  m.name = root.filename().string();
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it) {
    const auto rel = it->path().lexically_relative(root).generic_string();
    if (it->is_directory()) {
      // DICOM series folders count as one volume when the pattern names the folder.
      if (glob_match(options.pattern, rel)) {
        m.training.push_back({rel, {it->path().string()}, ""});
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!glob_match(options.pattern, rel)) continue;
    CaseEntry c;
    const auto parent = fs::path(rel).parent_path().generic_string();
    c.id = (parent.empty() ? "" : parent + "/") + io::strip_volume_extension(it->path());
    c.images.push_back(it->path().string());
    m.training.push_back(std::move(c));
  }
  GTGM_CHECK(!m.training.empty(), "{}: no file matches the pattern '{}' (set data.pattern, e.g. '**/*.nii.gz')",
             root.string(), options.pattern);
  sort_cases(m.training, root);
  return m;
}

namespace {
// Case ids and file names end up in JSON (plan, cache index, captions), which must be UTF-8: a
// name that is not would fail later with a JSON type error naming no file, or be stored as U+FFFD.
void check_utf8_names(const Manifest& m) {
  for (const auto* list : {&m.training, &m.test}) {
    for (const auto& c : *list) {
      std::vector<std::string> names = c.images;
      if (!c.label.empty()) names.push_back(c.label);
      for (const auto& n : names) {
        GTGM_CHECK(core::is_valid_utf8(n),
                   "{}: file name is not valid UTF-8 (bytes shown as \\xHH); expected UTF-8 names: rename the file",
                   core::escape_bytes(n));
      }
      GTGM_CHECK(core::is_valid_utf8(c.id), "case id '{}' (from {}) is not valid UTF-8; expected UTF-8 names",
                 core::escape_bytes(c.id), c.images.empty() ? m.root.string() : core::escape_bytes(c.images.front()));
    }
  }
}
}  // namespace

Manifest load_manifest(config::DataFormat format, const fs::path& root, const ManifestOptions& options) {
  GTGM_CHECK(!root.empty(), "data.root is empty (expected the dataset folder)");
  Manifest m;
  switch (format) {
    case config::DataFormat::MSD:
      m = load_msd(root, options);
      break;
    case config::DataFormat::NNUNet:
      m = load_nnunet(root, options);
      break;
    case config::DataFormat::CREMI:
      m = load_cremi(root, options);
      break;
    case config::DataFormat::Glob:
      m = load_glob(root, options);
      break;
    default:
      throw ConfigError(fmt::format("data.format {} is unknown", static_cast<int>(format)));
  }
  check_utf8_names(m);
  return m;
}

Manifest load_manifest(const std::string& format, const fs::path& root, const ManifestOptions& options) {
  const auto parsed = config::parse_enum<config::DataFormat>(format);
  if (!parsed) {
    throw ConfigError(fmt::format("data.format '{}' is unknown (expected msd, nnunet, cremi or glob)", format));
  }
  return load_manifest(*parsed, root, options);
}

Manifest load_manifest(const config::DataConfig& cfg) {
  ManifestOptions o;
  o.allow_outside_root = cfg.allow_outside_root;
  o.pattern = cfg.pattern;
  return load_manifest(cfg.format, cfg.root, o);
}

io::Volume read_case_image(const CaseEntry& c, const io::ReadOptions& options) {
  GTGM_CHECK(!c.images.empty(), "case {}: no image file", c.id);
  std::vector<io::Volume> parts;
  for (const auto& f : c.images) {
    parts.push_back(io::read_volume(f, options));
    if (parts.size() > 1) {
      const auto diff = io::geometry_mismatch(parts.front(), parts.back());
      GTGM_CHECK(diff.empty(), "case {}: channel files {} and {} do not share a voxel grid: {}", c.id,
                 parts.front().source, parts.back().source, diff);
    }
  }
  if (parts.size() == 1) return parts.front();
  io::Volume v = parts.front();
  std::vector<torch::Tensor> data;
  auto dtype = parts.front().data.scalar_type();
  for (const auto& p : parts) dtype = torch::promote_types(dtype, p.data.scalar_type());
  for (const auto& p : parts) data.push_back(p.data.to(dtype));
  v.data = torch::cat(data, 0);
  v.source = c.images.front();
  if (dtype != parts.front().data.scalar_type()) v.stored_dtype = io::dtype_name(dtype);
  return v;
}

std::optional<io::Volume> read_case_label(const CaseEntry& c, const io::ReadOptions& options) {
  if (c.label.empty()) return std::nullopt;
  io::ReadOptions o = options;
  o.require_3d = true;
  return io::read_volume(c.label, o);
}

std::vector<io::Problem> check_manifest(const Manifest& m, io::DatasetCheckOptions options) {
  if (options.labels.empty() && m.format != "cremi") options.labels = m.label_values();
  return io::check_cases(m.case_files(), options);
}

}  // namespace gtgm::data
