#include "gtgm/bench/infer_bench.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gtgm/bench/python_reference.h"
#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/core/torch_compat.h"
#include "gtgm/infer/sliding_window.h"

namespace gtgm::bench {

namespace {

// Reads a "Name:   1234 kB" line of /proc/self/status (0 when unavailable).
double proc_status_mb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream s(line.substr(key.size() + 1));
      double kb = 0;
      s >> kb;
      return kb / 1024.0;
    }
  }
  return 0;
}

// Resets the peak RSS (VmHWM) so it covers only what follows (Linux >= 4.0; ignored elsewhere).
void reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (out) out << "5";
}

void deterministic_(torch::Tensor t, double phase) {
  torch::NoGradGuard g;
  torch::Tensor k = torch::arange(t.numel(), torch::kFloat64);
  t.copy_((0.1 * torch::sin(0.37 * k + phase)).reshape(t.sizes()).to(t.scalar_type()));
}

torch::nn::Sequential conv_stack(int64_t channels, int64_t classes) {
  namespace nn = torch::nn;
  nn::Sequential net(nn::Conv3d(nn::Conv3dOptions(1, channels, 3).padding(1)), nn::ReLU(),
                     nn::Conv3d(nn::Conv3dOptions(channels, channels, 3).padding(1)), nn::ReLU(),
                     nn::Conv3d(nn::Conv3dOptions(channels, classes, 1)));
  double i = 0;
  for (auto& p : net->parameters()) deterministic_(p, i++);
  net->eval();
  return net;
}

torch::Tensor test_image(const std::array<int64_t, 3>& s) {
  torch::Tensor z = torch::arange(s[0], torch::kFloat).view({-1, 1, 1});
  torch::Tensor y = torch::arange(s[1], torch::kFloat).view({1, -1, 1});
  torch::Tensor x = torch::arange(s[2], torch::kFloat).view({1, 1, -1});
  return (torch::sin(0.3 * z) * torch::cos(0.2 * y) + torch::sin(0.1 * x)).unsqueeze(0);  // [1, D, H, W]
}

// Waits for queued device work (the timed region must include it): a scalar read syncs the stream.
void synchronize(const torch::Tensor& t) {
  if (t.defined() && t.is_cuda()) t.flatten()[0].item<double>();
}

}  // namespace

InferBenchResult run_infer_bench(const InferBenchOptions& o) {
  GTGM_CHECK(o.repeats >= 1, "bench infer: repeats must be >= 1, got {}", o.repeats);
  core::set_num_threads(o.threads);
  const torch::Device device = core::select_device(o.device);
  torch::nn::Sequential net = conv_stack(o.channels, o.classes);
  net->to(device);
  torch::Tensor image = test_image(o.size);
  infer::SlidingWindowOptions sw;
  sw.patch_size = o.patch;
  sw.overlap = o.overlap;
  sw.batch_size = o.batch;
  sw.device = device;
  sw.accumulate_dtype = o.accumulate_dtype == "float16" ? torch::kHalf : torch::kFloat;
  infer::ForwardFn predictor = [&net](const torch::Tensor& x) { return net->forward(x); };

  torch::NoGradGuard no_grad;
  infer::sliding_window_segment(image, predictor, sw);  // warm-up (argmax_labels returns on the host: synced)
  const double base_mb = proc_status_mb("VmRSS");
  reset_peak_rss();
  if (device.is_cuda()) core::compat::cuda_reset_peak_allocated(device.has_index() ? device.index() : 0);
  InferBenchResult r;
  r.impl = "gtgm";
  r.seconds = 1e300;
  torch::Tensor logits, labels;
  for (int i = 0; i < o.repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    logits = infer::sliding_window_inference(image, predictor, sw);
    labels = infer::argmax_labels(logits);  // copies to the host: the device work is done
    synchronize(logits);
    r.seconds = std::min(r.seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  r.host_peak_delta_mb = proc_status_mb("VmHWM") - base_mb;
  if (device.is_cuda())
    r.device_peak_mb =
        static_cast<double>(core::compat::cuda_peak_allocated_bytes(device.has_index() ? device.index() : 0)) /
        (1 << 20);
  r.voxels_per_s = static_cast<double>(o.size[0] * o.size[1] * o.size[2]) / r.seconds;
  r.checksum = logits.to(torch::kFloat64).mean().item<double>();
  r.label_sum = labels.to(torch::kInt64).sum().item<int64_t>();
  return r;
}

InferBenchResult run_infer_reference(const InferBenchOptions& o) {
  const auto j = run_python_reference(
      "infer", o.python, o.reference_script,
      fmt::format("--size {} {} {} --patch {} {} {} --overlap {} --batch {} --channels {} --classes {} --device {} "
                  "--threads {} --repeats {}",
                  o.size[0], o.size[1], o.size[2], o.patch[0], o.patch[1], o.patch[2], o.overlap, o.batch, o.channels,
                  o.classes, o.device == "auto" ? "cpu" : o.device, o.threads, o.repeats));
  InferBenchResult r;
  r.impl = j.at("impl").get<std::string>();
  r.seconds = j.at("seconds").get<double>();
  r.voxels_per_s = j.at("voxels_per_s").get<double>();
  r.host_peak_delta_mb = j.at("host_peak_delta_mb").get<double>();
  if (j.contains("device_peak_mb")) r.device_peak_mb = j.at("device_peak_mb").get<double>();
  r.checksum = j.at("checksum").get<double>();
  r.label_sum = j.at("label_sum").get<int64_t>();
  return r;
}

std::string format_infer_bench(const InferBenchOptions& o, const InferBenchResult& ours, const InferBenchResult* ref) {
  std::string s = fmt::format(
      "bench infer: volume {}x{}x{}, patch {}x{}x{}, overlap {}, batch {}, conv stack {}ch -> {} classes, device {}, "
      "accumulate {}\n",
      o.size[0], o.size[1], o.size[2], o.patch[0], o.patch[1], o.patch[2], o.overlap, o.batch, o.channels, o.classes,
      o.device, o.accumulate_dtype);
  auto mb = [](double v) { return v < 0 ? std::string("-") : fmt::format("{:.1f}", v); };
  s += fmt::format("{:<18} {:>10} {:>14} {:>16} {:>16} {:>14} {:>12}\n", "impl", "seconds", "voxels/s", "host peak +MB",
                   "device peak MB", "checksum", "label sum");
  for (const InferBenchResult* r : {&ours, ref}) {
    if (!r) continue;
    s += fmt::format("{:<18} {:>10.3f} {:>14.0f} {:>16} {:>16} {:>14.8f} {:>12}\n", r->impl, r->seconds,
                     r->voxels_per_s, mb(r->host_peak_delta_mb), mb(r->device_peak_mb), r->checksum, r->label_sum);
  }
  if (ref) {
    s += fmt::format(
        "ratio gtgm / reference: throughput {:.2f}x, host peak {}\n", ours.voxels_per_s / ref->voxels_per_s,
        ref->host_peak_delta_mb > 0 ? fmt::format("{:.2f}x", ours.host_peak_delta_mb / ref->host_peak_delta_mb)
                                    : std::string("-"));
    if (ours.device_peak_mb > 0 && ref->device_peak_mb > 0)
      s += fmt::format("device peak ratio: {:.2f}x\n", ours.device_peak_mb / ref->device_peak_mb);
    s += fmt::format("checksum difference: {:.2e} (same model, input and windows on both sides); label sums {}\n",
                     std::abs(ours.checksum - ref->checksum), ours.label_sum == ref->label_sum ? "equal" : "DIFFER");
  }
  return s;
}

namespace {
nlohmann::json result_json(const InferBenchResult& r) {
  nlohmann::json j = {{"impl", r.impl},
                      {"seconds", r.seconds},
                      {"voxels_per_s", r.voxels_per_s},
                      {"host_peak_delta_mb", r.host_peak_delta_mb},
                      {"checksum", r.checksum},
                      {"label_sum", r.label_sum}};
  if (r.device_peak_mb >= 0) j["device_peak_mb"] = r.device_peak_mb;
  return j;
}
}  // namespace

std::string infer_bench_json(const InferBenchOptions& o, const InferBenchResult& ours, const InferBenchResult* ref) {
  nlohmann::json j = {{"bench", "infer"},         {"size", o.size},     {"patch", o.patch},
                      {"overlap", o.overlap},     {"batch", o.batch},   {"channels", o.channels},
                      {"classes", o.classes},     {"device", o.device}, {"accumulate_dtype", o.accumulate_dtype},
                      {"gtgm", result_json(ours)}};
  if (ref) {
    j["reference"] = result_json(*ref);
    j["throughput_ratio"] = ours.voxels_per_s / ref->voxels_per_s;
    if (ref->host_peak_delta_mb > 0) j["host_peak_ratio"] = ours.host_peak_delta_mb / ref->host_peak_delta_mb;
    if (ours.device_peak_mb > 0 && ref->device_peak_mb > 0)
      j["device_peak_ratio"] = ours.device_peak_mb / ref->device_peak_mb;
  }
  return j.dump(2);
}

}  // namespace gtgm::bench
