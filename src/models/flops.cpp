#include "gtgm/models/flops.h"

#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"
#include "gtgm/models/gtgm_model.h"

namespace gtgm::models {

namespace {

thread_local FlopCount* g_active = nullptr;

/// Runs `fn` with `module` in eval mode and no autograd, restoring the mode afterwards.
template <class Fn>
FlopCount count_eval(torch::nn::Module& module, Fn fn) {
  const bool was_training = module.is_training();
  module.eval();
  FlopCount c;
  try {
    torch::NoGradGuard ng;
    c = count_flops(fn);
  } catch (...) {
    module.train(was_training);
    throw;
  }
  module.train(was_training);
  return c;
}

torch::Tensor one_sample(const torch::nn::Module& module, const std::vector<int64_t>& shape) {
  GTGM_CHECK(shape.size() >= 3, "count_flops: input shape must be [B, C, *spatial], got {}", core::shape_str(shape));
  std::vector<int64_t> s = shape;
  s[0] = 1;
  auto params = module.parameters();
  const auto opts = params.empty() ? torch::TensorOptions() : torch::TensorOptions().device(params.front().device());
  return torch::zeros(s, opts.dtype(torch::kFloat));
}

FlopCount scaled(FlopCount c, int64_t factor) {
  c.total *= factor;
  for (auto& [k, v] : c.by_kind) v *= factor;
  return c;
}

}  // namespace

namespace detail {
bool flops_active() { return g_active != nullptr; }
void add_flops(const char* kind, int64_t flops) {
  if (g_active == nullptr) return;
  g_active->total += flops;
  g_active->by_kind[kind] += flops;
}
}  // namespace detail

FlopCount count_flops(const std::function<void()>& fn) {
  FlopCount count;
  FlopCount* previous = g_active;
  g_active = &count;
  try {
    fn();
  } catch (...) {
    g_active = previous;
    throw;
  }
  g_active = previous;
  return count;
}

FlopCount count_flops(EncoderImpl& encoder, const std::vector<int64_t>& input_shape) {
  auto x = one_sample(encoder, input_shape);
  return scaled(count_eval(encoder, [&] { encoder.forward(x); }), input_shape[0]);
}

FlopCount count_flops(SegmentationModelImpl& model, const std::vector<int64_t>& input_shape) {
  auto x = one_sample(model, input_shape);
  return scaled(count_eval(model, [&] { model.forward_deep(x); }), input_shape[0]);
}

FlopCount count_flops(GtgmModelImpl& model, const std::vector<int64_t>& input_shape) {
  auto x = one_sample(model, input_shape);
  const int64_t text_dim = model.text_proj()->in_features();
  auto t = torch::zeros({1, text_dim}, x.options());
  // Two views through encoder + vision_proj (one is run, counted twice), plus text_proj.
  auto img = count_eval(model, [&] { model.encode_image(x); });
  const auto txt = count_eval(model, [&] { model.project_text(t); });
  auto c = scaled(img, 2);
  c.total += txt.total;
  for (const auto& [k, v] : txt.by_kind) c.by_kind[k] += v;
  return scaled(c, input_shape[0]);
}

}  // namespace gtgm::models
