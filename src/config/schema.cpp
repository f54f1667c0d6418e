#include "gtgm/config/schema.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

namespace gtgm::config {
namespace {
std::string num(double x) { return fmt::format("{}", x); }
}  // namespace

std::string Check::describe() const {
  if (!choices.empty()) return fmt::format("one of: {}", fmt::join(choices, ", "));
  const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
  std::string range;
  if (has_lo && has_hi) {
    range = fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", num(lo), num(hi), hi_open ? ")" : "]");
  } else if (has_lo) {
    range = fmt::format("{} {}", lo_open ? ">" : ">=", num(lo));
  } else if (has_hi) {
    range = fmt::format("{} {}", hi_open ? "<" : "<=", num(hi));
  }
  if (auto_ok) return range.empty() ? std::string("or auto") : range + ", or auto";
  return range;
}

bool Check::accepts(double x) const {
  if (std::isnan(x)) return false;
  if (lo_open ? !(x > lo) : !(x >= lo)) return false;
  if (hi_open ? !(x < hi) : !(x <= hi)) return false;
  return true;
}

bool Check::accepts(const std::string& s) const {
  return choices.empty() || std::find(choices.begin(), choices.end(), s) != choices.end();
}

}  // namespace gtgm::config
