#include "gtgm/config/suite_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "source_tree.h"
#include "visitors.h"

namespace fs = std::filesystem;

namespace gtgm::config {

namespace {

using detail::SourceNode;

// Strict reading of one mapping: typed getters record errors "<file>:<line>: <path>: ...", and
// finish() reports keys nobody asked for.
class MapReader {
 public:
  MapReader(const SourceNode& node, std::string prefix, std::vector<std::string>& errors)
      : node_(node), prefix_(std::move(prefix)), errors_(errors) {}

  const SourceNode* child(const std::string& key) {
    known_.push_back(key);
    return node_.find(key);
  }
  std::string path(const std::string& key) const { return prefix_ + key; }
  void error(const SourceNode& at, const std::string& key, const std::string& what) {
    errors_.push_back(fmt::format("{}: {}: {}", at.where(), path(key), what));
  }

  template <class T>
  bool scalar(const std::string& key, T& out, bool required = false) {
    const SourceNode* c = child(key);
    if (c == nullptr) {
      if (required)
        errors_.push_back(
            fmt::format("{}: {}: missing (expected {})", node_.where(), path(key), detail::type_name<T>()));
      return false;
    }
    if (c->is_map || !detail::convert_scalar(c->value, out)) {
      error(*c, key, "expected " + detail::type_name<T>() + ", " + detail::describe_found(*c));
      return false;
    }
    return true;
  }

  bool strings(const std::string& key, std::vector<std::string>& out) {
    const SourceNode* c = child(key);
    if (c == nullptr) return false;
    if (c->is_map || !c->value.IsSequence()) {
      error(*c, key, "expected a list of strings like [run.device=cuda], " + detail::describe_found(*c));
      return false;
    }
    std::vector<std::string> v;
    for (size_t i = 0; i < c->value.size(); ++i) {
      std::string s;
      if (!detail::convert_scalar(c->value[i], s)) {
        error(*c, key, fmt::format("element {}: expected a string", i));
        return false;
      }
      v.push_back(s);
    }
    out = std::move(v);
    return true;
  }

  /// A list of numbers; with `allow_null`, null elements become nullopt.
  bool numbers(const SourceNode& c, const std::string& key, std::vector<std::optional<double>>& out, bool allow_null) {
    if (c.is_map || !c.value.IsSequence()) {
      error(c, key,
            std::string("expected a list of numbers") + (allow_null ? " (null where unknown)" : "") +
                " like [0.01, 0.1, 1.0], " + detail::describe_found(c));
      return false;
    }
    std::vector<std::optional<double>> v;
    for (size_t i = 0; i < c.value.size(); ++i) {
      const YAML::Node e = c.value[i];
      if (allow_null && e.IsNull()) {
        v.emplace_back(std::nullopt);
        continue;
      }
      double d = 0;
      if (!detail::convert_scalar(e, d) || !std::isfinite(d)) {
        error(c, key,
              fmt::format("element {}: expected a number{}, found '{}'", i, allow_null ? " or null" : "",
                          e.IsScalar() ? e.Scalar() : std::string("a list or mapping")));
        return false;
      }
      v.emplace_back(d);
    }
    out = std::move(v);
    return true;
  }

  void finish() {
    for (const auto& [key, c] : node_.children) {
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      const std::string hint = detail::closest(key, known_);
      errors_.push_back(fmt::format("{}: unknown key '{}'{}", c.where(), path(key),
                                    hint.empty() ? fmt::format(" (valid keys here: {})", fmt::join(known_, ", "))
                                                 : fmt::format(" (did you mean '{}'?)", path(hint))));
    }
  }

 private:
  const SourceNode& node_;
  std::string prefix_;
  std::vector<std::string>& errors_;
  std::vector<std::string> known_;
};

std::string fraction_problem(double f) {
  if (!(f > 0 && f <= 1)) return fmt::format("{} is not a label fraction (expected a number in (0, 1])", f);
  return "";
}

bool fractions(MapReader& r, const std::string& key, std::vector<double>& out) {
  const SourceNode* c = r.child(key);
  if (c == nullptr) return false;
  std::vector<std::optional<double>> v;
  if (!r.numbers(*c, key, v, false)) return false;
  if (v.empty()) {
    r.error(*c, key, "expected at least one label fraction");
    return false;
  }
  std::vector<double> f;
  for (const auto& x : v) {
    if (const auto p = fraction_problem(*x); !p.empty()) {
      r.error(*c, key, p);
      return false;
    }
    if (std::find(f.begin(), f.end(), *x) != f.end()) {
      r.error(*c, key, fmt::format("{} is listed twice", *x));
      return false;
    }
    f.push_back(*x);
  }
  out = std::move(f);
  return true;
}

bool seed_list(MapReader& r, const std::string& key, std::vector<int64_t>& out) {
  const SourceNode* c = r.child(key);
  if (c == nullptr) return false;
  if (c->is_map || !c->value.IsSequence() || c->value.size() == 0) {
    r.error(*c, key,
            "expected a non-empty list of seeds (integers >= 0) like [1, 2, 3], " + detail::describe_found(*c));
    return false;
  }
  std::vector<int64_t> v;
  for (size_t i = 0; i < c->value.size(); ++i) {
    int64_t seed = 0;
    if (!detail::convert_scalar(c->value[i], seed) || seed < 0) {
      r.error(*c, key,
              fmt::format("element {}: expected an integer >= 0, found '{}'", i,
                          c->value[i].IsScalar() ? c->value[i].Scalar() : std::string("a list or mapping")));
      return false;
    }
    if (std::find(v.begin(), v.end(), seed) != v.end()) {
      r.error(*c, key, fmt::format("{} is listed twice", seed));
      return false;
    }
    v.push_back(seed);
  }
  out = std::move(v);
  return true;
}

SuiteDataset read_dataset(const SourceNode& node, size_t index, const SuiteConfig& suite, const fs::path& base_dir,
                          std::vector<std::string>& errors) {
  const std::string prefix = fmt::format("datasets[{}].", index);
  SuiteDataset d;
  d.where = node.where();
  if (!node.is_map) {
    errors.push_back(fmt::format("{}: datasets[{}]: expected a mapping with name, config, data, metric, paper; {}",
                                 node.where(), index, detail::describe_found(node)));
    return d;
  }
  MapReader r(node, prefix, errors);
  r.scalar("name", d.name, true);
  std::string config;
  if (r.scalar("config", config, true)) {
    d.config = (base_dir / config).lexically_normal();
    if (!fs::exists(d.config))
      r.error(*node.find("config"), "config", fmt::format("fine-tuning config {} does not exist", d.config.string()));
  }
  r.scalar("data", d.data, true);
  if (r.scalar("metric", d.metric)) {
    const auto& names = suite_metric_names();
    if (std::find(names.begin(), names.end(), d.metric) == names.end())
      r.error(*node.find("metric"), "metric",
              fmt::format("'{}' is not valid; expected one of: {}", d.metric, fmt::join(names, ", ")));
  }
  d.label_fractions = suite.label_fractions;
  fractions(r, "label_fractions", d.label_fractions);
  if (r.strings("fraction_labels", d.fraction_labels) && d.fraction_labels.size() != d.label_fractions.size())
    r.error(*node.find("fraction_labels"), "fraction_labels",
            fmt::format("expected {} name(s), one per label fraction {}, found {}", d.label_fractions.size(),
                        detail::value_text(d.label_fractions), d.fraction_labels.size()));
  r.strings("set", d.sets);
  if (const SourceNode* paper = r.child("paper")) {
    if (!paper->is_map) {
      if (!paper->value.IsNull())
        r.error(
            *paper, "paper",
            "expected a mapping init -> [one number or null per label fraction], " + detail::describe_found(*paper));
    } else {
      for (const auto& [init, values] : paper->children) {
        const std::string key = "paper." + init;
        const bool known =
            std::any_of(suite.inits.begin(), suite.inits.end(), [&](const SuiteInit& i) { return i.name == init; });
        if (!known) {
          std::vector<std::string> names;
          for (const auto& i : suite.inits) names.push_back(i.name);
          r.error(values, key, fmt::format("no init named '{}' (inits: {})", init, fmt::join(names, ", ")));
          continue;
        }
        std::vector<std::optional<double>> v;
        if (!r.numbers(values, key, v, true)) continue;
        if (v.size() != d.label_fractions.size()) {
          r.error(values, key,
                  fmt::format("expected {} value(s), one per label fraction {}, found {}", d.label_fractions.size(),
                              detail::value_text(d.label_fractions), v.size()));
          continue;
        }
        d.paper.emplace_back(init, std::move(v));
      }
    }
  }
  r.finish();
  return d;
}

// A relative path written in the suite file resolves against the file's folder (as the rows'
// `config:` do), one from --set, --data-root, the environment or a default against the working
// directory; the result is absolute.
std::string suite_path(const SourceNode* node, const std::string& value) {
  if (value.empty()) return value;
  const fs::path p(value);
  if (p.is_absolute()) return p.lexically_normal().string();
  const bool from_file = node != nullptr && node->file.rfind("--set", 0) != 0;
  return fs::absolute((from_file ? fs::path(node->base_dir) : fs::path()) / p).lexically_normal().string();
}

SuiteConfig bind_suite(const SourceNode& tree, const fs::path& base_dir, const std::string& data_root_override) {
  SuiteConfig s;
  std::vector<std::string> errors;
  MapReader r(tree, "", errors);
  r.scalar("name", s.name);
  r.scalar("note", s.note);
  r.scalar("output_dir", s.output_dir);
  std::string file_root = "data";
  std::string file_root_where = "default";
  if (const SourceNode* c = tree.find("data_root")) file_root_where = c->where();
  const bool root_given = r.scalar("data_root", file_root);
  r.scalar("data_root_env", s.data_root_env);
  fractions(r, "label_fractions", s.label_fractions);
  seed_list(r, "seeds", s.seeds);
  if (r.scalar("overlay_cases", s.overlay_cases) && s.overlay_cases < 0)
    r.error(*tree.find("overlay_cases"), "overlay_cases",
            fmt::format("{} is out of range; expected >= 0", s.overlay_cases));
  r.scalar("allow_pretraining_on_test_data", s.allow_pretraining_on_test_data);
  r.strings("set", s.sets);

  if (const SourceNode* inits = r.child("inits")) {
    if (!inits->is_map || inits->children.empty()) {
      r.error(*inits, "inits",
              "expected a mapping name -> pretrained path (\"\" = random init), e.g. "
              "{gtgm: runs/pretrain/all, random: \"\"}; " +
                  detail::describe_found(*inits));
    } else {
      for (const auto& [name, v] : inits->children) {
        SuiteInit init{name, ""};
        if (v.is_map || !(v.value.IsNull() || detail::convert_scalar(v.value, init.path))) {
          r.error(v, "inits." + name, "expected a path (\"\" = random init), " + detail::describe_found(v));
          continue;
        }
        init.path = suite_path(&v, init.path);
        s.inits.push_back(init);
      }
    }
  } else {
    errors.push_back(
        fmt::format("{}: inits: missing (expected e.g. {{gtgm: runs/pretrain/all, random: \"\"}})", tree.where()));
  }

  if (const SourceNode* ds = r.child("datasets")) {
    if (ds->is_map || !ds->value.IsSequence() || ds->value.size() == 0) {
      r.error(*ds, "datasets",
              "expected a list of datasets (- name: ..., config: ..., data: ...), " + detail::describe_found(*ds));
    } else {
      std::set<std::string> names;
      for (size_t i = 0; i < ds->value.size(); ++i) {
        SuiteDataset d = read_dataset(detail::to_source_tree(ds->value[i], ds->file), i, s, base_dir, errors);
        if (!d.name.empty() && !names.insert(d.name).second)
          errors.push_back(fmt::format("{}: datasets[{}].name: '{}' is listed twice", d.where, i, d.name));
        s.datasets.push_back(std::move(d));
      }
    }
  } else {
    errors.push_back(fmt::format("{}: datasets: missing (expected a list of datasets)", tree.where()));
  }
  r.finish();
  if (!errors.empty()) {
    throw ConfigError(errors.size() == 1
                          ? errors.front()
                          : fmt::format("{} suite config errors:\n  {}", errors.size(), fmt::join(errors, "\n  ")));
  }

  s.output_dir = suite_path(tree.find("output_dir"), s.output_dir);
  // Data root precedence: --data-root, --set data_root, $<data_root_env>, the file, "data".
  const char* env = s.data_root_env.empty() ? nullptr : std::getenv(s.data_root_env.c_str());
  const bool from_set = root_given && file_root_where.rfind("--set", 0) == 0;
  if (!data_root_override.empty()) {
    s.data_root = data_root_override;
    s.data_root_source = "--data-root";
  } else if (from_set) {
    s.data_root = file_root;
    s.data_root_source = file_root_where;
  } else if (env != nullptr && *env != '\0') {
    s.data_root = env;
    s.data_root_source = "$" + s.data_root_env;
  } else {
    s.data_root = file_root;
    s.data_root_source = file_root_where;
  }
  s.data_root = suite_path(s.data_root_source == file_root_where ? tree.find("data_root") : nullptr, s.data_root);
  return s;
}

}  // namespace

const std::vector<std::string>& suite_metric_names() {
  static const std::vector<std::string> names = {"dice", "hd95", "nsd", "voi", "arand"};
  return names;
}

bool metric_lower_is_better(const std::string& metric) {
  return metric == "hd95" || metric == "voi" || metric == "arand" || metric == "voi_split" || metric == "voi_merge";
}

std::optional<double> SuiteConfig::paper_value(const SuiteDataset& dataset, const std::string& init, size_t k) const {
  for (const auto& [name, values] : dataset.paper) {
    if (name == init && k < values.size()) return values[k];
  }
  return std::nullopt;
}

SuiteConfig load_suite_config_string(const std::string& yaml, const std::string& name, const fs::path& base_dir,
                                     const std::vector<std::string>& sets, const std::string& data_root_override) {
  SourceNode tree = detail::load_tree(yaml, name, base_dir);
  for (const auto& s : sets) detail::apply_set(tree, s);
  return bind_suite(tree, base_dir, data_root_override);
}

SuiteConfig load_suite_config(const fs::path& file, const std::vector<std::string>& sets,
                              const std::string& data_root_override) {
  if (!fs::exists(file)) throw ConfigError(fmt::format("suite config file {} does not exist", file.string()));
  SuiteConfig s = load_suite_config_string(core::read_text_file(file), file.lexically_normal().string(),
                                           file.parent_path(), sets, data_root_override);
  s.file = file;
  return s;
}

}  // namespace gtgm::config
