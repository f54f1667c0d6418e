#pragma once
/// Config fields that take one of a fixed set of names bind to an `enum class`. Each such enum has
/// one names table, its `EnumNames` specialisation, which lists every value with its spelling in
/// YAML, `--set`, config.resolved.yaml, tables, diffs and docs/configs.md:
///   enum class Blend { Gaussian, Constant };
///   template <> struct EnumNames<Blend> {
///     static constexpr std::pair<Blend, const char*> items[] = {{Blend::Gaussian, "gaussian"}, ...};
///   };
/// The order of `items` is the order of "one of: ..." in messages and docs. A struct's `visit()`
/// lists such a field without a Check (`v.field("blend", blend, "doc")`); the visitors read and write
/// it as its spelling and validate it against the table.
#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "gtgm/config/schema.h"

namespace gtgm::config {

/// Names table of an enum (specialise with a `static constexpr std::pair<E, const char*> items[]`).
template <class E>
struct EnumNames;

template <class E, class = void>
struct has_enum_names : std::false_type {};
template <class E>
struct has_enum_names<E, std::void_t<decltype(EnumNames<E>::items)>> : std::true_type {};
/// Whether `E` has a names table.
template <class E>
inline constexpr bool has_enum_names_v = has_enum_names<E>::value;

/// The spelling of `e` ("?" for a value missing from the table, which a test rules out).
template <class E, std::enable_if_t<has_enum_names_v<E>, int> = 0>
std::string to_string(E e) {
  for (const auto& item : EnumNames<E>::items) {
    if (item.first == e) return item.second;
  }
  return "?";
}

/// The value spelled `text`, or nullopt when no value has that spelling (exact, case-sensitive).
template <class E>
std::optional<E> parse_enum(std::string_view text) {
  for (const auto& item : EnumNames<E>::items) {
    if (text == std::string_view(item.second)) return item.first;
  }
  return std::nullopt;
}

/// Every spelling, in table order.
template <class E>
std::vector<std::string> enum_spellings() {
  std::vector<std::string> out;
  for (const auto& item : EnumNames<E>::items) out.emplace_back(item.second);
  return out;
}

/// The choice check of an enum field ("one of: a, b" in messages and docs).
template <class E>
Check one_of() {
  Check c;
  c.choices = enum_spellings<E>();
  return c;
}

}  // namespace gtgm::config

/// fmt (and so GTGM_CHECK / GTGM_INFO) prints an enum with a names table by its spelling; without
/// this, fmt 9 would print the underlying integer.
template <class E>
struct fmt::formatter<E, char, std::enable_if_t<gtgm::config::has_enum_names_v<E>>>
    : fmt::formatter<fmt::string_view, char> {
  template <class FormatContext>
  auto format(E e, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view, char>::format(gtgm::config::to_string(e), ctx);
  }
};
