#include "gtgm/config/load.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <iterator>
#include <sstream>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "visitors.h"

namespace fs = std::filesystem;

namespace gtgm::config {
namespace detail {

std::string scalar_text(bool v) { return v ? "true" : "false"; }
std::string scalar_text(double v) {
  std::string s = fmt::format("{}", v);  // shortest text that reads back to the same double
  return s;
}
std::string scalar_text(const std::string& v) { return v; }

std::string describe_found(const SourceNode& node) {
  if (node.is_map) return "found a mapping";
  const YAML::Node& v = node.value;
  if (!v.IsDefined() || v.IsNull()) return "found nothing (null)";
  if (v.IsSequence()) return "found a list";
  if (v.IsMap()) return "found a mapping";
  return "found '" + v.Scalar() + "'";
}

namespace {
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string closest(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(key, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  const size_t limit = std::max<size_t>(2, key.size() / 3);
  return best_d <= limit ? best : "";
}

std::string Reader::length_text(const Check& c) {
  if (c.min_len == c.max_len) return fmt::format("exactly {} element(s)", c.min_len);
  if (c.max_len == std::numeric_limits<size_t>::max()) return fmt::format("at least {} element(s)", c.min_len);
  return fmt::format("{} to {} elements", c.min_len, c.max_len);
}

void Reader::finish() {
  for (const auto& [key, child] : node_.children) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string hint = closest(key, known_);
    if (!hint.empty()) {
      hint = prefix_ + hint;
    } else {
      // The key may exist in another section (e.g. optim.batch_size vs data.batch_size).
      for (const auto& p : all_paths_) {
        const auto dot = p.rfind('.');
        if (dot != std::string::npos && p.substr(dot + 1) == key) {
          hint = p;
          break;
        }
      }
    }
    std::string msg = child.where() + ": unknown key '" + prefix_ + key + "'";
    if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
    else msg += fmt::format(" (valid keys here: {})", fmt::join(known_, ", "));
    errors_.push_back(msg);
  }
}

std::vector<FieldRow> rows_of(const Config& cfg) {
  std::vector<FieldRow> rows;
  Flattener f(rows);
  const_cast<Config&>(cfg).visit(f);  // visitors do not modify in Flattener
  return rows;
}

}  // namespace detail

Config file_defaults() {
  Config c;
  c.model.num_classes = 0;
  c.model.encoder.in_channels = 0;
  c.data.modality = Modality::Auto;
  c.data.crop_size = {};
  return c;
}

namespace {

std::vector<std::string> all_field_paths() {
  std::vector<std::string> paths;
  for (const auto& r : detail::rows_of(Config{})) {
    if (!r.is_section) paths.push_back(r.path);
  }
  return paths;
}

// The keys that hold file-system paths (config::path_keys). A relative path written in a config file
// resolves against that file's folder (as `inherit:` does), one given with --set against the working
// directory, a default against the working directory; all become absolute, so that
// config.resolved.yaml read back from the run dir means the same paths.
constexpr const char* kPathKeys[] = {"run.dir",        "data.root",  "data.cache_dir",     "train.init",
                                     "text.model_dir", "text.vocab", "text.caption_cache", "text.embedding_cache"};
// Lists of paths (each element resolves as a path key does).
constexpr const char* kPathListKeys[] = {"train.mix_datasets"};

std::vector<std::pair<const char*, std::string*>> path_fields(Config& c) {
  std::string* members[] = {&c.run.dir,      &c.data.root,  &c.data.cache_dir,     &c.train.init,
                            &c.text.model_dir, &c.text.vocab, &c.text.caption_cache, &c.text.embedding_cache};
  static_assert(std::size(kPathKeys) == 8, "one member per path key");
  std::vector<std::pair<const char*, std::string*>> out;
  for (size_t i = 0; i < std::size(kPathKeys); ++i) out.emplace_back(kPathKeys[i], members[i]);
  return out;
}

std::vector<std::pair<const char*, std::vector<std::string>*>> path_list_fields(Config& c) {
  return {{kPathListKeys[0], &c.train.mix_datasets}};
}

std::string absolute_path(const fs::path& base, const std::string& value) {
  const fs::path p(value);
  if (p.is_absolute()) return p.lexically_normal().string();
  return fs::absolute(base / p).lexically_normal().string();
}

detail::SourceNode* find_key(detail::SourceNode& root, const std::string& key) {
  detail::SourceNode* node = root.find(key.substr(0, key.find('.')));
  return node ? node->find(key.substr(key.find('.') + 1)) : nullptr;
}

// Rewrites every relative path value in `root` to an absolute one (see kPathKeys). Values of the
// wrong type are left for the binder to report.
void resolve_tree_paths(detail::SourceNode& root) {
  auto base_of = [](const detail::SourceNode& node) {
    return node.file.rfind("--set ", 0) == 0 ? fs::path() : fs::path(node.base_dir);
  };
  for (const char* key : kPathKeys) {
    detail::SourceNode* node = find_key(root, key);
    if (!node || node->is_map || !node->value.IsScalar() || node->value.Scalar().empty()) continue;
    node->value.reset(YAML::Node(absolute_path(base_of(*node), node->value.Scalar())));
  }
  for (const char* key : kPathListKeys) {
    detail::SourceNode* node = find_key(root, key);
    if (!node || node->is_map || !node->value.IsSequence()) continue;
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& e : node->value) {
      if (e.IsScalar() && !e.Scalar().empty())
        list.push_back(absolute_path(base_of(*node), e.Scalar()));
      else
        list.push_back(e);
    }
    node->value.reset(list);
  }
}

Config bind_tree(const detail::SourceNode& tree, const std::vector<std::string>& sets) {
  detail::SourceNode root = tree;
  for (const auto& s : sets) detail::apply_set(root, s);
  resolve_tree_paths(root);
  Config cfg = file_defaults();
  std::vector<std::string> errors;
  const auto paths = all_field_paths();
  detail::Reader reader(root, "", errors, paths);
  cfg.visit(reader);
  reader.finish();
  if (!errors.empty()) {
    throw ConfigError(errors.size() == 1 ? errors.front()
                                         : fmt::format("{} config errors:\n  {}", errors.size(), fmt::join(errors, "\n  ")));
  }
  for (auto& [key, value] : path_fields(cfg)) {  // defaults (no node in the tree): the working directory
    if (!value->empty() && !fs::path(*value).is_absolute()) *value = absolute_path(fs::path(), *value);
  }
  for (auto& [key, list] : path_list_fields(cfg)) {
    for (auto& value : *list)
      if (!value.empty() && !fs::path(value).is_absolute()) value = absolute_path(fs::path(), value);
  }
  validate(cfg);
  return cfg;
}

}  // namespace

std::vector<std::string> path_keys() {
  std::vector<std::string> keys(std::begin(kPathKeys), std::end(kPathKeys));
  keys.insert(keys.end(), std::begin(kPathListKeys), std::end(kPathListKeys));
  return keys;
}

Config load_config(const fs::path& file, const std::vector<std::string>& sets) {
  if (!fs::exists(file)) throw ConfigError(fmt::format("config file {} does not exist", file.string()));
  // Reading a folder yields no text, which would run with every default.
  if (fs::is_directory(file))
    throw ConfigError(
        fmt::format("config file {} is a folder; expected a YAML file (a run folder holds "
                    "config.resolved.yaml)",
                    file.string()));
  const std::string text = core::read_text_file(file);
  return bind_tree(detail::load_tree(text, file.lexically_normal().string(), file.parent_path()), sets);
}

Config load_config_string(const std::string& yaml, const std::string& name, const std::vector<std::string>& sets,
                          const fs::path& base_dir) {
  return bind_tree(detail::load_tree(yaml, name, base_dir), sets);
}

Config default_config(const std::vector<std::string>& sets) { return load_config_string("", "<defaults>", sets); }

void validate(const Config& cfg) {
  std::vector<std::string> errors;
  if (cfg.loss.vlp_weight == 0 && (cfg.loss.vr_kind == ViewTerm::None || cfg.loss.vr_weight == 0)) {
    errors.push_back("loss: every term has weight 0 (loss.vlp_weight and loss.vr_weight/vr_kind); nothing would be trained");
  }
  if (cfg.optim.warmup_steps >= cfg.train.steps) {
    errors.push_back(fmt::format("optim.warmup_steps ({}) must be smaller than train.steps ({})", cfg.optim.warmup_steps,
                                 cfg.train.steps));
  }
  if (cfg.model.encoder.in_channels > 1 && cfg.data.modality == Modality::EM) {
    errors.push_back(
        fmt::format("model.in_channels is {} but EM volumes have one channel", cfg.model.encoder.in_channels));
  }
  for (auto& p : model_config_problems(cfg.model)) errors.push_back(std::move(p));
  if (!errors.empty()) {
    throw ConfigError(errors.size() == 1 ? errors.front()
                                         : fmt::format("{} config errors:\n  {}", errors.size(), fmt::join(errors, "\n  ")));
  }
}

std::string to_yaml(const Config& cfg) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  detail::Writer w(out);
  const_cast<Config&>(cfg).visit(w);
  out << YAML::EndMap;
  return std::string("# gtgm resolved config: every key with its value; `gtgm <cmd> --config` reads it back.\n") +
         out.c_str() + "\n";
}

void write_resolved(const Config& cfg, const fs::path& run_dir) {
  core::atomic_write_text(run_dir / "config.resolved.yaml", to_yaml(cfg));
}

std::vector<std::pair<std::string, std::string>> flatten(const Config& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : detail::rows_of(cfg)) {
    if (!r.is_section) out.emplace_back(r.path, r.value);
  }
  return out;
}

std::vector<std::string> diff(const Config& a, const Config& b) {
  const auto fa = flatten(a), fb = flatten(b);
  std::vector<std::string> out;
  for (size_t i = 0; i < fa.size(); ++i) {
    if (fa[i].second != fb[i].second) out.push_back(fa[i].first + ": " + fa[i].second + " -> " + fb[i].second);
  }
  return out;
}

std::string format_table(const Config& cfg) {
  const auto rows = flatten(cfg);
  size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.first.size());
  std::ostringstream ss;
  for (const auto& [k, v] : rows) ss << fmt::format("  {:<{}}  {}\n", k, width, v.empty() ? "\"\"" : v);
  return ss.str();
}

std::string config_docs_markdown() {
  std::ostringstream ss;
  ss << "# Configuration keys\n\n"
     << "<!-- Generated by `gtgm info --config-docs` from include/gtgm/config/*.h; a test fails when it drifts. -->\n\n"
     << "A config file is YAML with the sections below; every key is optional and defaults to the value shown.\n"
     << "`inherit: base.yaml` (one parent, path relative to the file) merges the parent key by key, and\n"
     << "`--set section.key=value` (repeatable) overrides after that, with the same checks. An unknown key, a\n"
     << "wrong type or a value out of range is an error naming the file, line and key path (with the closest\n"
     << "valid key). Each run writes the result to `RUN_DIR/config.resolved.yaml`.\n\n"
     << "Paths (`run.dir`, `data.root`, `data.cache_dir`, `train.init`, `train.mix_datasets`, `text.model_dir`,\n"
     << "`text.vocab`, `text.caption_cache`, `text.embedding_cache`): a relative path written in a file resolves\n"
     << "against that file's folder, as `inherit:` does (a parent's paths against the parent's folder); one\n"
     << "given with `--set` against the working directory, as does a default. All become absolute, so\n"
     << "`config.resolved.yaml` means the same files wherever it is read from. A copied config therefore\n"
     << "finds its data relative to where it now lies. The shipped configs point from `configs/` into the\n"
     << "checkout (`../../demo_run`, `../../runs`, `../../data`, `../../assets`). An eval suite's `output_dir`,\n"
     << "`data_root` and `inits` resolve against the suite file the same way (`--data-root`: the working\n"
     << "directory). `text.weights` is looked up as before (absolute, else beside `text.model_dir`).\n\n"
     << "Keys that follow the dataset default to `auto` in a config file: `model.num_classes` (highest value of\n"
     << "dataset.json \"labels\" + 1; nnU-Net's \"ignore\" is no class), `model.in_channels` (the channels of\n"
     << "\"modality\" / \"channel_names\"; 1 for cremi; a glob folder: its first image's header), `data.modality`\n"
     << "(CT when every channel is CT, MRI when none is, EM for cremi) and `data.crop_size` (the planned patch\n"
     << "of the cache's plan.json; `data.preprocess.target_spacing: auto` is the planned spacing). `finetune`\n"
     << "fills them at start, logs each value with the dataset field it came from, and writes the values to\n"
     << "the run dir's config.resolved.yaml; `pretrain` fills `data.modality` and each dataset's crop the same\n"
     << "way and takes `model.in_channels: auto` as 1 (each view is one channel of a volume); `plan` and\n"
     << "`preprocess` fill `data.modality`. A value\n"
     << "given explicitly that contradicts dataset.json is an error at start naming the key and the field; a\n"
     << "dataset that cannot tell (CT mixed with other channels, no labels) is an error naming the key.\n";
  for (const auto& r : detail::rows_of(file_defaults())) {
    if (r.is_section) {
      ss << "\n## `" << r.path << "`: " << r.doc << "\n\n"
         << "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
    } else {
      const std::string def = r.value.empty() ? "\"\"" : r.value;
      ss << "| `" << r.path << "` | " << r.type << " | `" << def << "` | " << r.constraint << " | " << r.doc << " |\n";
    }
  }
  return ss.str();
}

}  // namespace gtgm::config
