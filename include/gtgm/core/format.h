#pragma once
/// fmt formatters for the LibTorch types that error messages name: sizes (IntArrayRef, printed
/// "[2, 1, 32, 64, 64]"), devices ("cuda:0") and dtypes ("Float"). Included by core/error.h so
/// GTGM_CHECK(..., "got {}", x.sizes()) just works.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>
#include <type_traits>

namespace fmt {

template <typename T, typename Char>
struct is_range<c10::ArrayRef<T>, Char> : std::false_type {};

template <typename T>
struct formatter<c10::ArrayRef<T>> : formatter<std::string> {
  template <typename FormatContext>
  auto format(const c10::ArrayRef<T>& a, FormatContext& ctx) const -> decltype(ctx.out()) {
    std::string s = "[";
    for (size_t i = 0; i < a.size(); ++i) s += (i ? ", " : "") + fmt::format("{}", a[i]);
    return formatter<std::string>::format(s + "]", ctx);
  }
};

template <>
struct formatter<c10::Device> : formatter<std::string> {
  template <typename FormatContext>
  auto format(const c10::Device& d, FormatContext& ctx) const -> decltype(ctx.out()) {
    return formatter<std::string>::format(d.str(), ctx);
  }
};

template <>
struct formatter<c10::ScalarType> : formatter<std::string> {
  template <typename FormatContext>
  auto format(c10::ScalarType t, FormatContext& ctx) const -> decltype(ctx.out()) {
    return formatter<std::string>::format(std::string(c10::toString(t)), ctx);
  }
};

}  // namespace fmt
