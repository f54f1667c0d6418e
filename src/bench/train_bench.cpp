#include "gtgm/bench/train_bench.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gtgm/app/train_setup.h"
#include "gtgm/bench/python_reference.h"
#include "gtgm/config/load.h"
#include "gtgm/core/device.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/timer.h"
#include "gtgm/core/torch_compat.h"
#include "gtgm/models/flops.h"
#include "gtgm/models/registry.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/text/embedding_cache.h"
#include "gtgm/train/metrics.h"
#include "gtgm/train/pretrain_task.h"
#include "gtgm/train/trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gtgm::bench {
namespace {

struct Preset {
  std::vector<std::string> sets;
  std::vector<int64_t> crop;
  int64_t batch;
  int64_t text_dim;
};

Preset preset(const std::string& model, bool cuda) {
  if (model == "demo") {
    return {{"model.depth=18", "model.base_channels=8", "model.embed_dim=128", "model.proj_hidden=128",
             "model.proj_dim=64", "model.text_embed_dim=12"},
            {16, 48, 48},
            4,
            12};
  }
  GTGM_CHECK(model == "paper", "bench train: unknown model '{}'; expected demo, paper or both", model);
  // The paper's model (ResNet-50, E 2048, projectors 2048 -> 512, BioBERT 768); the paper's crop on
  // CUDA, a small one on CPU.
  return {{"model.depth=50", "model.base_channels=64", "model.embed_dim=2048", "model.proj_hidden=2048",
           "model.proj_dim=512", "model.text_embed_dim=768"},
          cuda ? std::vector<int64_t>{24, 224, 224} : std::vector<int64_t>{16, 64, 64},
          2,
          768};
}

// A caption cache for the random source's volumes and a matching embedding cache of random rows.
void write_text_caches(const fs::path& dir, int64_t dim) {
  std::vector<text::CaptionRecord> records;
  {
    text::CaptionWriter w(dir / "captions.jsonl");
    for (int v = 0; v < 4; ++v)
      w.append({"synthetic_" + std::to_string(v), {0, 0, 0}, "caption " + std::to_string(v), "bench", ""});
  }
  // The texts as pretraining reads them (the default text.caption_prefix: "<volume>, <caption>").
  const auto captions = text::load_caption_inputs(dir / "captions.jsonl", config::TextConfig{}.caption_prefix);
  torch::Tensor hashes = torch::empty({captions.size()}, torch::kLong);
  for (int64_t i = 0; i < captions.size(); ++i) hashes[i] = static_cast<int64_t>(text::hash64(captions.text(i)));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  text::save_embedding_cache(dir / "emb.safetensors", torch::randn({captions.size(), dim}, gen), hashes,
                             torch::ones({captions.size()}, torch::kUInt8), {{"encoder", "bench: random"}});
}

TrainBenchResult bench_one(const TrainBenchOptions& o, const std::string& model, const fs::path& tmp) {
  const torch::Device device = core::select_device(o.device);
  Preset p = preset(model, device.is_cuda());
  if (!o.crop.empty()) p.crop = o.crop;
  if (o.batch > 0) p.batch = o.batch;
  write_text_caches(tmp, p.text_dim);
  std::vector<std::string> sets = p.sets;
  const int total = o.warmup + o.steps;
  sets.insert(sets.end(),
              {"run.dir=" + (tmp / model).string(), "run.device=" + o.device, "run.precision=" + o.precision,
               "run.log_level=warn", "model.type=resnet3d", "model.in_channels=1", "text.caption_cache=" + (tmp / "captions.jsonl").string(),
               "text.embedding_cache=" + (tmp / "emb.safetensors").string(), fmt::format("data.batch_size={}", p.batch),
               fmt::format("train.steps={}", total), "train.log_every=1",
               fmt::format("train.channels_last={}", o.channels_last ? "true" : "false"), "optim.warmup_steps=0"});
  const config::Config cfg = config::default_config(sets);
  torch::manual_seed(0);
  train::PretrainTask task(app::pretrain_task_config(cfg), device,
                           train::make_random_source(p.batch, p.crop, device, 1));
  TrainBenchResult r;
  r.impl = "gtgm";
  r.model = model;
  r.crop = p.crop;
  r.batch = p.batch;
  r.parameters = models::count_parameters(task.module());
  std::vector<int64_t> shape = {p.batch, 1};
  shape.insert(shape.end(), p.crop.begin(), p.crop.end());
  r.forward_gflops = static_cast<double>(models::count_flops(*task.model(), shape).total) / 1e9;

  std::vector<double> stamps;
  core::Stopwatch clock;
  train::TrainerOptions to;
  to.progress_out = nullptr;
  to.handle_signals = false;
  to.checkpoints = false;
  to.on_metrics = [&](const train::MetricsRow&) { stamps.push_back(clock.seconds()); };
  if (device.is_cuda()) core::compat::cuda_reset_peak_allocated(device.index());
  train::Trainer trainer(app::trainer_config(cfg), task, device, to);
  clock.reset();
  trainer.run();
  GTGM_CHECK(static_cast<int>(stamps.size()) == total, "bench train: expected {} metric rows, got {}", total,
             stamps.size());
  r.step_s = (stamps.back() - stamps[static_cast<size_t>(o.warmup) - (o.warmup > 0 ? 1 : 0)]) /
             static_cast<double>(o.warmup > 0 ? o.steps : o.steps - 1);
  r.steps_per_s = 1.0 / r.step_s;
  r.samples_per_s = static_cast<double>(p.batch) / r.step_s;
  r.tflops = 3.0 * r.forward_gflops / 1e3 / r.step_s;
  r.peak_mem_mb = device.is_cuda() ? static_cast<double>(core::compat::cuda_peak_allocated_bytes(device.index())) / 1e6
                                   : static_cast<double>(train::process_rss_bytes()) / 1e6;
  return r;
}

}  // namespace

std::vector<TrainBenchResult> run_train_bench(const TrainBenchOptions& o) {
  GTGM_CHECK(o.steps >= 2 && o.warmup >= 0, "bench train: need --iters >= 2 and --warmup >= 0");
  core::set_num_threads(o.threads);
  const fs::path tmp = fs::temp_directory_path() / fmt::format("gtgm_bench_train_{}", ::getpid());
  fs::create_directories(tmp);
  std::vector<TrainBenchResult> out;
  try {
    for (const std::string m : {"demo", "paper"}) {
      if (o.model == m || o.model == "both") out.push_back(bench_one(o, m, tmp));
    }
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
  fs::remove_all(tmp);
  GTGM_CHECK(!out.empty(), "bench train: --train-model must be demo, paper or both, got '{}'", o.model);
  return out;
}

TrainBenchResult run_train_reference(const TrainBenchOptions& o, const TrainBenchResult& ours) {
  const auto j = run_python_reference(
      "train", o.python, o.reference_script,
      fmt::format(
          "--model {} --crop {} {} {} --batch {} --steps {} --warmup {} --threads {} --device {} --precision {}{}",
          ours.model, ours.crop[0], ours.crop[1], ours.crop[2], ours.batch, o.steps, o.warmup,
          o.threads > 0 ? o.threads : static_cast<int>(torch::get_num_threads()), o.device == "auto" ? "cpu" : o.device,
          o.precision, o.channels_last ? " --channels-last" : ""));
  TrainBenchResult r = ours;
  r.impl = j.at("impl").get<std::string>();
  r.parameters = j.at("parameters").get<int64_t>();
  r.step_s = j.at("step_s").get<double>();
  r.steps_per_s = 1.0 / r.step_s;
  r.samples_per_s = static_cast<double>(r.batch) / r.step_s;
  r.tflops = 3.0 * r.forward_gflops / 1e3 / r.step_s;
  r.peak_mem_mb = j.at("peak_mem_mb").get<double>();
  return r;
}

std::string format_train_bench(const TrainBenchOptions& o, const std::vector<TrainBenchResult>& ours,
                               const std::vector<TrainBenchResult>& ref) {
  std::string s = fmt::format(
      "bench train: GTGM pretraining step, device {}, precision {}, threads {}, {} timed steps "
      "after {} warm-up\n",
      o.device, o.precision, o.threads > 0 ? o.threads : static_cast<int>(torch::get_num_threads()), o.steps, o.warmup);
  s += fmt::format("{:<7} {:<7} {:>12} {:>6} {:>11} {:>9} {:>8} {:>10} {:>11} {:>9} {:>9}\n", "model", "impl", "crop",
                   "batch", "params", "step ms", "steps/s", "samples/s", "fwd GFLOP", "TFLOP/s", "mem MB");
  auto row = [&](const TrainBenchResult& r) {
    s += fmt::format("{:<7} {:<7} {:>12} {:>6} {:>11} {:>9.1f} {:>8.2f} {:>10.2f} {:>11.2f} {:>9.3f} {:>9.0f}\n",
                     r.model, r.impl, fmt::format("{}x{}x{}", r.crop[0], r.crop[1], r.crop[2]), r.batch, r.parameters,
                     1e3 * r.step_s, r.steps_per_s, r.samples_per_s, r.forward_gflops, r.tflops, r.peak_mem_mb);
  };
  for (size_t i = 0; i < ours.size(); ++i) {
    row(ours[i]);
    if (i < ref.size()) {
      row(ref[i]);
      s += fmt::format("{:<7} C++/Python step-time ratio: {:.3f} ({})\n", ours[i].model, ours[i].step_s / ref[i].step_s,
                       ours[i].step_s <= ref[i].step_s ? "gtgm is not slower" : "gtgm is slower");
    }
  }
  return s;
}

std::string train_bench_json(const TrainBenchOptions& o, const std::vector<TrainBenchResult>& ours,
                             const std::vector<TrainBenchResult>& ref) {
  auto one = [](const TrainBenchResult& r) {
    return json{{"impl", r.impl},
                {"model", r.model},
                {"crop", r.crop},
                {"batch", r.batch},
                {"parameters", r.parameters},
                {"step_s", r.step_s},
                {"steps_per_s", r.steps_per_s},
                {"samples_per_s", r.samples_per_s},
                {"forward_gflops", r.forward_gflops},
                {"tflops", r.tflops},
                {"peak_mem_mb", r.peak_mem_mb}};
  };
  json j = {{"device", o.device}, {"precision", o.precision}, {"threads", o.threads},
            {"steps", o.steps},   {"warmup", o.warmup},       {"channels_last", o.channels_last}};
  j["gtgm"] = json::array();
  for (const auto& r : ours) j["gtgm"].push_back(one(r));
  j["python"] = json::array();
  for (size_t i = 0; i < ref.size(); ++i) {
    j["python"].push_back(one(ref[i]));
    j["ratio_cpp_over_python"][ref[i].model] = ours[i].step_s / ref[i].step_s;
  }
  return j.dump(2);
}

}  // namespace gtgm::bench
