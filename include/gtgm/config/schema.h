#pragma once
/// The schema vocabulary of config structs. Each section struct lists its fields once in
/// `template <class V> void visit(V& v)`:
///   v.field("lr", lr, "peak learning rate", gt(0));
///   v.section("encoder", encoder, "image encoder");
/// and one generic visitor each reads YAML strictly, writes YAML, flattens for tables and diffs,
/// and generates docs/configs.md, so the four can never disagree.
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

namespace gtgm::config {

/// A constraint on a field: numeric range (per element for lists), list length, or a choice.
struct Check {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;
  std::size_t min_len = 0;
  std::size_t max_len = std::numeric_limits<std::size_t>::max();
  std::vector<std::string> choices;
  /// The value may be written `auto` (read as 0 for a number, [] for a list; written back as `auto`):
  /// a key that follows the dataset (model.num_classes, data.crop_size, ...), filled at run start.
  bool auto_ok = false;

  /// Also accepts `auto` (see auto_ok).
  Check& or_auto() {
    auto_ok = true;
    return *this;
  }
  /// Requires a list length in [lo, hi].
  Check& length(std::size_t lo_len, std::size_t hi_len) {
    min_len = lo_len;
    max_len = hi_len;
    return *this;
  }
  Check& length(std::size_t n) { return length(n, n); }
  /// "> 0", "in [0, 1]", "one of: a, b", "" when unconstrained.
  std::string describe() const;
  /// Whether a number satisfies the range.
  bool accepts(double x) const;
  /// Whether a string satisfies the choices (always true when there are none).
  bool accepts(const std::string& s) const;
};

inline Check any() { return {}; }
inline Check gt(double x) { Check c; c.lo = x; c.lo_open = true; return c; }
inline Check ge(double x) { Check c; c.lo = x; return c; }
inline Check between(double a, double b) { Check c; c.lo = a; c.hi = b; return c; }
/// Half-open (a, b].
inline Check in_open_closed(double a, double b) { Check c; c.lo = a; c.hi = b; c.lo_open = true; return c; }
inline Check one_of(std::initializer_list<const char*> names) {
  Check c;
  for (const char* n : names) c.choices.emplace_back(n);
  return c;
}

}  // namespace gtgm::config
