#pragma once
// Private to config/: the generic visitors over config structs (see schema.h).
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"
#include "source_tree.h"

namespace gtgm::config::detail {

// ---- type traits / names -------------------------------------------------------------------
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "true/false";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (is_vector<T>::value) {
    using E = typename T::value_type;
    if constexpr (std::is_same_v<E, std::string>) return "a list of strings";
    else if constexpr (std::is_integral_v<E>) return "a list of integers";
    else return "a list of numbers";
  }
  return "a value";
}

// Short type tag for docs.
template <class T>
std::string doc_type() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (std::is_floating_point_v<T>) return "float";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (is_vector<T>::value) return "list[" + doc_type<typename T::value_type>() + "]";
  return "?";
}

/// Value -> text as written in YAML (doubles in shortest round-trip form).
std::string scalar_text(bool v);
std::string scalar_text(double v);
std::string scalar_text(const std::string& v);
template <class T>
std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, std::string> scalar_text(T v) {
  return std::to_string(v);
}
template <class T>
std::string value_text(const T& v) {
  if constexpr (is_vector<T>::value) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + scalar_text(v[i]);
    return s + "]";
  } else {
    return scalar_text(v);
  }
}

/// "found 'fast'", "found a list", "found a mapping", "found nothing (null)".
std::string describe_found(const SourceNode& node);
/// The closest name among `candidates` (edit distance), or "" when nothing is close.
std::string closest(const std::string& key, const std::vector<std::string>& candidates);

/// Converts one YAML scalar; false when it does not convert.
template <class T>
bool convert_scalar(const YAML::Node& n, T& out) {
  if (!n.IsScalar()) return false;
  if constexpr (std::is_same_v<T, std::string>) {
    out = n.Scalar();
    return true;
  } else if constexpr (std::is_floating_point_v<T>) {
    // strtod, not stod: an overflow such as 1e999 reads as inf, which the Reader then refuses by
    // name ("must be finite") instead of calling a valid number "not a number".
    const std::string& text = n.Scalar();
    if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return false;
    out = static_cast<T>(d);
    return true;
  } else {
    try {
      out = n.as<T>();
      return true;
    } catch (const YAML::Exception&) {
      return false;
    }
  }
}

/// Whether a node is the scalar `auto`.
inline bool is_auto(const SourceNode& node) { return node.value.IsScalar() && node.value.Scalar() == "auto"; }

/// The text of a value as written in YAML; `auto` for the auto value (0, []) of a field that allows it.
template <class T>
std::string field_text(const T& v, const Check& check) {
  if constexpr (!std::is_same_v<T, std::string> && !std::is_same_v<T, bool>) {
    if (check.auto_ok && v == T{}) return "auto";
  }
  return value_text(v);
}

// ---- Reader: strict binding of a SourceNode map onto a struct ---------------------------------
class Reader {
 public:
  Reader(const SourceNode& node, std::string prefix, std::vector<std::string>& errors,
         const std::vector<std::string>& all_paths)
      : node_(node), prefix_(std::move(prefix)), errors_(errors), all_paths_(all_paths) {}

  template <class T>
  void field(const char* name, T& value, const char* doc, const Check& check = {}) {
    if constexpr (has_enum_names_v<T>) {
      // An enum field reads as its spelling, checked against its names table.
      std::string text = to_string(value);
      const size_t errors_before = errors_.size();
      plain_field(name, text, one_of<T>());
      if (errors_.size() == errors_before) value = *parse_enum<T>(text);
    } else {
      plain_field(name, value, check);
    }
  }

 private:
  template <class T>
  void plain_field(const char* name, T& value, const Check& check) {
    known_.emplace_back(name);
    const SourceNode* child = node_.find(name);
    if (child == nullptr) return;
    const std::string key = prefix_ + name;
    if (child->is_map) {
      error(*child, key, "expected " + type_name<T>() + ", found a mapping");
      return;
    }
    if constexpr (!std::is_same_v<T, std::string> && !std::is_same_v<T, bool>) {
      if (check.auto_ok && is_auto(*child)) {
        value = T{};  // 0 or []: filled from the dataset at run start
        return;
      }
    }
    T parsed{};
    if constexpr (is_vector<T>::value) {
      if (!child->value.IsSequence()) {
        error(*child, key, "expected " + type_name<T>() + " like [1, 2, 3], " + describe_found(*child));
        return;
      }
      for (size_t i = 0; i < child->value.size(); ++i) {
        typename T::value_type e{};
        if (!convert_scalar(child->value[i], e)) {
          SourceNode elem;
          elem.value.reset(child->value[i]);
          error(*child, key, "element " + std::to_string(i) + ": expected " +
                                 type_name<typename T::value_type>() + ", " + describe_found(elem));
          return;
        }
        parsed.push_back(e);
      }
      if (parsed.size() < check.min_len || parsed.size() > check.max_len) {
        error(*child, key, "expected " + length_text(check) + ", found " + std::to_string(parsed.size()) +
                               " element(s) " + value_text(parsed));
        return;
      }
      for (const auto& e : parsed) {
        if (!element_ok(*child, key, e, check)) return;
      }
    } else {
      if (!convert_scalar(child->value, parsed)) {
        error(*child, key, "expected " + type_name<T>() + ", " + describe_found(*child));
        return;
      }
      if (!element_ok(*child, key, parsed, check)) return;
    }
    value = std::move(parsed);
  }

 public:
  template <class S>
  void section(const char* name, S& sub, const char* /*doc*/) {
    known_.emplace_back(name);
    const SourceNode* child = node_.find(name);
    if (child == nullptr) return;
    const std::string key = prefix_ + name;
    if (!child->is_map) {
      if (child->value.IsNull()) return;  // "data:" with nothing under it keeps the defaults
      error(*child, key, "expected a section (a mapping of keys), " + describe_found(*child));
      return;
    }
    Reader r(*child, key + ".", errors_, all_paths_);
    sub.visit(r);
    r.finish();
  }

  /// Reports keys of this node that no field consumed.
  void finish();

 private:
  template <class E>
  bool element_ok(const SourceNode& at, const std::string& key, const E& e, const Check& check) {
    if constexpr (std::is_same_v<E, std::string>) {
      if (!check.accepts(e)) {
        error(at, key, "'" + e + "' is not valid; expected " + check.describe());
        return false;
      }
    } else if constexpr (!std::is_same_v<E, bool>) {
      // No config field has a use for inf or nan (a bound that is "off" is 0 or a flag), and an
      // inf learning rate or weight only shows up later as a diverged run; refused for every field.
      if constexpr (std::is_floating_point_v<E>) {
        if (!std::isfinite(e)) {
          error(at, key, "must be finite, got " + scalar_text(static_cast<double>(e)));
          return false;
        }
      }
      if (!check.accepts(static_cast<double>(e))) {
        error(at, key, scalar_text(e) + " is out of range; expected " + check.describe());
        return false;
      }
    }
    return true;
  }
  static std::string length_text(const Check& c);
  void error(const SourceNode& at, const std::string& key, const std::string& what) {
    errors_.push_back(at.where() + ": " + key + ": " + what);
  }

  const SourceNode& node_;
  std::string prefix_;
  std::vector<std::string>& errors_;
  const std::vector<std::string>& all_paths_;
  std::vector<std::string> known_;
};

// ---- Flattener: (path, value text) rows, plus section paths --------------------------------------
struct FieldRow {
  std::string path, type, value, constraint, doc;
  bool is_section = false;
};

class Flattener {
 public:
  explicit Flattener(std::vector<FieldRow>& rows, std::string prefix = "") : rows_(rows), prefix_(std::move(prefix)) {}

  template <class T>
  void field(const char* name, T& value, const char* doc, const Check& check = {}) {
    if constexpr (has_enum_names_v<T>) {
      std::string text = to_string(value);
      rows_.push_back({prefix_ + name, doc_type<std::string>(), value_text(text), one_of<T>().describe(), doc, false});
    } else {
      rows_.push_back({prefix_ + name, doc_type<T>(), field_text(value, check), check.describe(), doc, false});
    }
  }
  template <class S>
  void section(const char* name, S& sub, const char* doc) {
    rows_.push_back({prefix_ + name, "section", "", "", doc, true});
    Flattener f(rows_, prefix_ + name + ".");
    sub.visit(f);
  }

 private:
  std::vector<FieldRow>& rows_;
  std::string prefix_;
};

// ---- Writer: YAML emitter ----------------------------------------------------------------------
class Writer {
 public:
  explicit Writer(YAML::Emitter& out) : out_(out) {}

  template <class T>
  void field(const char* name, T& value, const char* /*doc*/, const Check& check = {}) {
    out_ << YAML::Key << name << YAML::Value;
    if constexpr (has_enum_names_v<T>) {
      emit(to_string(value));
    } else if (field_text(value, check) == "auto") {
      out_ << "auto";
    } else if constexpr (is_vector<T>::value) {
      out_ << YAML::Flow << YAML::BeginSeq;
      for (const auto& e : value) emit(e);
      out_ << YAML::EndSeq;
    } else {
      emit(value);
    }
  }
  template <class S>
  void section(const char* name, S& sub, const char* /*doc*/) {
    out_ << YAML::Key << name << YAML::Value << YAML::BeginMap;
    sub.visit(*this);
    out_ << YAML::EndMap;
  }

 private:
  void emit(const std::string& s) {
    // Quote strings that YAML would otherwise read as something else (numbers, bools, null, empty).
    YAML::Node probe;
    bool plain = !s.empty();
    if (plain) {
      try {
        probe = YAML::Load(s);
        plain = probe.IsScalar() && probe.Scalar() == s && probe.Tag() != "!";
        double d;
        if (plain && convert_scalar(probe, d)) plain = false;
        bool b;
        if (plain && probe.IsScalar()) {
          try { b = probe.as<bool>(); (void)b; plain = false; } catch (...) {}
        }
      } catch (...) {
        plain = false;
      }
    }
    if (plain) out_ << s;
    else out_ << YAML::DoubleQuoted << s;
  }
  void emit(bool b) { out_ << (b ? "true" : "false"); }
  template <class T>
  void emit(T v) {
    out_ << scalar_text(v);
  }

  YAML::Emitter& out_;
};

}  // namespace gtgm::config::detail
