#pragma once
// Private helpers of the eval area for error messages.
#include <torch/torch.h>

#include <string>

namespace gtgm::infer::detail {

/// "[2, 3, 4]" for a defined tensor, "undefined" otherwise.
inline std::string shape_of(const torch::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace gtgm::infer::detail
