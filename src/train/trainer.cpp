#include "gtgm/train/trainer.h"

#include <cmath>
#include <csignal>
#include <cstring>

#include "gtgm/config/load.h"
#include "gtgm/config/saved_config.h"
#include "gtgm/core/build_info.h"
#include "gtgm/core/error.h"
#include "gtgm/core/log_file_only.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/timer.h"
#include "gtgm/core/torch_compat.h"
#include "gtgm/dist/collectives.h"
#include "gtgm/train/checkpoint.h"
#include "gtgm/train/schedule.h"
#include "gtgm/train/signals.h"
#include "gtgm/train/sync_bn.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gtgm::train {

/// Sums over the steps since the last metrics row. Loss sums stay on the device so that logging is
/// the only place they are read back.
struct Trainer::Window {
  torch::Tensor loss_sum, grad_norm_sum;
  std::vector<std::pair<std::string, torch::Tensor>> term_sums;
  int64_t loss_count = 0, norm_count = 0, steps = 0, skipped = 0, samples = 0;
  double data_wait = 0;
  core::Stopwatch watch;

  void reset() {
    loss_sum = grad_norm_sum = torch::Tensor();
    term_sums.clear();
    loss_count = norm_count = steps = skipped = samples = 0;
    data_wait = 0;
    watch.reset();
  }
};

namespace {

torch::Tensor add_to(const torch::Tensor& sum, const torch::Tensor& x) { return sum.defined() ? sum + x : x.clone(); }

std::string stop_reason_text() {
  switch (stop_signal()) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case 0:
      return "request";
    default:
      return "signal " + std::to_string(stop_signal());
  }
}

// Converts parameters and buffers of 5-D convolution weights to channels-last-3d in place.
void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    if (p.dim() == 5) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast3d));
  }
}

json bytes_to_json(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous().to(torch::kUInt8);
  const auto* p = c.data_ptr<uint8_t>();
  return json(std::vector<uint8_t>(p, p + c.numel()));
}

torch::Tensor json_to_bytes(const json& j) {
  const auto v = j.get<std::vector<uint8_t>>();
  return torch::from_blob(const_cast<uint8_t*>(v.data()), {static_cast<int64_t>(v.size())}, torch::kUInt8).clone();
}

// Every rank's string, on every rank (two all-gathers: lengths, then padded bytes).
std::vector<std::string> gather_strings(const std::string& mine, const dist::Context& ctx) {
  const torch::Tensor lens = dist::all_gather(torch::tensor({static_cast<int64_t>(mine.size())}), ctx);
  const int64_t longest = lens.max().item<int64_t>();
  torch::Tensor buf = torch::zeros({longest}, torch::kUInt8);
  std::memcpy(buf.data_ptr<uint8_t>(), mine.data(), mine.size());
  const torch::Tensor all = dist::all_gather(buf, ctx).cpu().contiguous();
  std::vector<std::string> out;
  for (int r = 0; r < ctx.world_size(); ++r) {
    const auto* p = all.data_ptr<uint8_t>() + r * longest;
    out.emplace_back(reinterpret_cast<const char*>(p), static_cast<size_t>(lens[r].item<int64_t>()));
  }
  return out;
}

}  // namespace

Trainer::Trainer(TrainerConfig cfg, Task& task, const torch::Device& device, TrainerOptions options)
    : cfg_(std::move(cfg)), task_(task), device_(device), options_(std::move(options)), dist_(dist::global()) {
  run_dir_ = options_.run_dir.empty() ? fs::path(cfg_.run.dir) : options_.run_dir;
  precision_ = core::resolve_precision(cfg_.run.precision, device_);
  if (device_.is_cuda()) {
    at::globalContext().setBenchmarkCuDNN(cfg_.train.cudnn_benchmark && !cfg_.run.deterministic);
  }
  if (cfg_.run.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
  ctx_.device = device_;
  ctx_.precision = precision_;
  ctx_.non_blocking = device_.is_cuda() && cfg_.data.pin_memory;
  ctx_.channels_last = device_.is_cuda() && cfg_.train.channels_last;
  if (ctx_.channels_last) to_channels_last(task_.module());
  optimizer_ = std::make_unique<Optimizer>(cfg_.optim, task_.module());
  GradScalerOptions so;
  so.init_scale = cfg_.train.loss_scale_init;
  so.growth_interval = cfg_.train.loss_scale_growth_interval;
  scaler_ = std::make_unique<GradScaler>(precision_ == core::Precision::FP16, device_, so);
  if (dist_.distributed()) {
    if (cfg_.sync_bn) {
      // Not inside the log call: a logging macro may skip its arguments (other ranks, levels).
      const int64_t converted = enable_sync_batch_norm(task_.module(), dist_);
      GTGM_INFO("trainer: {} batch norm layer(s) normalise over all {} processes (model.sync_bn)", converted,
                dist_.world_size());
    }
    reducer_ = std::make_unique<dist::Reducer>(task_.module(), dist_, cfg_.dist.bucket_mb);
    GTGM_INFO("trainer: {} processes ({}), gradients all-reduced in {} bucket(s)", dist_.world_size(), dist_.backend(),
              reducer_->bucket_bytes().size());
  }
  GTGM_INFO("trainer: task {} on {}, precision {}, {}", task_.name(), device_.str(), core::precision_name(precision_),
            optimizer_->summary());
}

Trainer::~Trainer() = default;

void Trainer::resume(const fs::path& path) {
  const fs::path dir = resolve_checkpoint(path);
  GTGM_INFO("resuming from {}", dir.string());
  CheckpointData data = read_checkpoint(dir);
  if (cfg_.check_resume) cfg_.check_resume(data.config_yaml, dir.string());
  const config::Config saved = config::load_saved_config(data.config_yaml, (dir / "config.yaml").string());
  if (saved.train.steps != cfg_.train.steps && schedule_depends_on_total(cfg_.optim.schedule)) {
    GTGM_WARN(
        "train.steps changed from {} to {} with schedule '{}': the learning rate at step {} becomes {:.4g} "
        "instead of {:.4g}",
        saved.train.steps, cfg_.train.steps, cfg_.optim.schedule, data.step,
        learning_rate(cfg_.optim, data.step, cfg_.train.steps),
        learning_rate(saved.optim, data.step, saved.train.steps));
  }
  const int saved_world = data.trainer.value("world_size", 1);
  GTGM_CHECK(saved_world == dist_.world_size(),
             "checkpoint {} was written by {} process(es) but this job has {}: each rank's loader position and RNG "
             "streams are saved, so resume with the same number of processes",
             dir.string(), saved_world, dist_.world_size());
  GTGM_CHECK(data.step <= cfg_.train.steps,
             "checkpoint {} is at step {}, past train.steps = {}; raise train.steps to continue", dir.string(),
             data.step, cfg_.train.steps);
  io::load_state_into(task_.module(), data.weights, /*strict=*/true, (dir / "model.safetensors").string());
  optimizer_->load_state(data.optimizer, data.optimizer_meta);
  const json& t = data.trainer;
  scaler_->load_state(t.at("scaler"));
  step_ = data.step;
  resumed_from_ = data.step;
  nonfinite_run_ = t.at("nonfinite_run").get<int64_t>();
  skipped_total_ = t.at("skipped_total").get<int64_t>();
  samples_seen_ = t.at("samples_seen").get<int64_t>();
  best_ = t.value("best", json(nullptr));
  // best.json is written just after its checkpoint: a kill between the two (found by the kill
  // tests) left the file older than the checkpoint's record, and a later, worse step was then
  // taken for the best. The checkpoint is the truth.
  if (dist_.is_rank0() && !best_.is_null() && read_best(run_dir_) != best_) write_best(run_dir_, best_);
  last_validation_.reset();
  if (t.contains("last_validation") && !t["last_validation"].is_null()) {
    Validation v;
    v.score = t["last_validation"].at("score").get<double>();
    v.higher_is_better = t["last_validation"].at("higher_is_better").get<bool>();
    last_validation_ = v;
  }
  // Loader and RNG state last: nothing above may draw from the RNGs after this point.
  if (dist_.rank() == 0) {
    task_.restore(data.loader);
    restore_torch_rng(data.rng);
    restore_std_rng(t.at("rng"));
  } else {
    GTGM_CHECK(t.contains("ranks") && t["ranks"].size() > static_cast<size_t>(dist_.rank()),
               "checkpoint {}: trainer.json holds no state for rank {}", dir.string(), dist_.rank());
    restore_local_rank_state(t["ranks"][static_cast<size_t>(dist_.rank())]);
  }
}

json Trainer::local_rank_state() const {
  json rng = json::object();
  for (const auto& [name, state] : capture_torch_rng()) rng[name] = bytes_to_json(state);
  return {{"rank", dist_.rank()}, {"loader", task_.state()}, {"torch_rng", rng}, {"std_rng", capture_std_rng()}};
}

void Trainer::restore_local_rank_state(const json& state) {
  GTGM_CHECK(state.at("rank").get<int>() == dist_.rank(), "rank state is for rank {}, not {}",
             state.at("rank").get<int>(), dist_.rank());
  task_.restore(state.at("loader"));
  io::NamedTensors rng;
  for (const auto& [name, bytes] : state.at("torch_rng").items()) rng.emplace_back(name, json_to_bytes(bytes));
  restore_torch_rng(rng);
  restore_std_rng(state.at("std_rng"));
}

fs::path Trainer::save_checkpoint() {
  update_best_candidate();
  // Every rank's loader position and RNG streams travel to rank 0, which writes the checkpoint.
  std::vector<std::string> rank_states;
  if (dist_.distributed()) rank_states = gather_strings(local_rank_state().dump(), dist_);
  if (dist_.rank() != 0) {
    dist::barrier(dist_);  // rank 0 has written the checkpoint when this returns
    return {};
  }
  CheckpointData d;
  d.step = step_;
  d.weights = io::module_state(task_.module());
  // Never a checkpoint of diverged weights (e.g. optim.lr far too high: finite losses until the
  // weights overflow): it would become the newest, maybe the best, and be exported or resumed.
  std::vector<std::string> bad;
  for (const auto& [name, t] : d.weights)
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>()) bad.push_back(name);
  if (!bad.empty()) {
    const auto last = latest_valid_checkpoint(run_dir_);
    GTGM_THROW(
        "step {}: {} weight tensor(s) hold NaN or Inf (first: {}); no checkpoint written. Training diverged: lower "
        "optim.lr or check the data. {}",
        step_, bad.size(), bad.front(),
        last ? "The last checkpoint, " + last->string() + ", holds the weights before the divergence"
             : std::string("No earlier checkpoint exists"));
  }
  d.optimizer = optimizer_->state_tensors();
  d.optimizer_meta = optimizer_->state_meta();
  d.rng = capture_torch_rng();
  json last_val = nullptr;
  if (last_validation_)
    last_val = {{"score", last_validation_->score}, {"higher_is_better", last_validation_->higher_is_better}};
  d.trainer = {{"step", step_},
               {"gtgm_version", core::gtgm_version()},
               {"precision", core::precision_name(precision_)},
               {"samples_seen", samples_seen_},
               {"nonfinite_run", nonfinite_run_},
               {"skipped_total", skipped_total_},
               {"scaler", scaler_->state()},
               {"schedule",
                {{"name", config::to_string(cfg_.optim.schedule)},
                 {"total_steps", cfg_.train.steps},
                 {"next_lr", learning_rate(cfg_.optim, step_, cfg_.train.steps)},
                 {"last_lr", last_lr_}}},
               {"best", best_},
               {"last_validation", last_val},
               {"rng", capture_std_rng()},
               {"world_size", dist_.world_size()}};
  if (!rank_states.empty()) {
    json ranks = json::array();
    for (const auto& r : rank_states) ranks.push_back(json::parse(r));
    d.trainer["ranks"] = ranks;
  }
  d.loader = task_.state();
  d.config_yaml = cfg_.config_yaml;
  const fs::path dir = checkpoint_dir(run_dir_, step_);
  core::Stopwatch watch;
  write_checkpoint(dir, d);
  if (!best_.is_null() && best_.value("step", int64_t{-1}) == step_) write_best(run_dir_, best_);
  prune_checkpoints(run_dir_, cfg_.train.keep_last, best_.is_null() ? -1 : best_.value("step", int64_t{-1}));
  GTGM_INFO("checkpoint {} written in {:.1f}s", dir.string(), watch.seconds());
  if (dist_.distributed()) dist::barrier(dist_);
  return dir;
}

void Trainer::update_best_candidate() {
  std::optional<double> score;
  bool higher = false;
  std::string metric;
  if (task_.has_validation()) {
    if (last_validation_) {
      score = last_validation_->score;
      higher = last_validation_->higher_is_better;
      metric = "validation";
    }
  } else if (ckpt_loss_count_ > 0) {
    score = ckpt_loss_sum_.item<double>() / static_cast<double>(ckpt_loss_count_);
    metric = "train_loss";
  }
  ckpt_loss_sum_ = torch::Tensor();
  ckpt_loss_count_ = 0;
  if (dist_.distributed() && metric == "train_loss") {
    score = dist::reduce_meters({{"loss", *score}}, dist_, dist::ReduceOp::Mean).at("loss");
  }
  if (!score || !std::isfinite(*score)) return;
  const bool better =
      best_.is_null() || (higher ? *score > best_.at("score").get<double>() : *score < best_.at("score").get<double>());
  if (better) best_ = {{"step", step_}, {"score", *score}, {"metric", metric}, {"higher_is_better", higher}};
}

void Trainer::train_step(Window& w) {
  optimizer_->zero_grad();
  const int accum = cfg_.optim.accumulation;
  const double lr = learning_rate(cfg_.optim, step_, cfg_.train.steps);
  torch::Tensor step_loss;
  std::vector<std::pair<std::string, torch::Tensor>> step_terms;
  ctx_.step = step_;
  for (int micro = 0; micro < accum; ++micro) {
    ctx_.micro_step = micro;
    core::Stopwatch wait;
    Batch batch = task_.next_batch();
    w.data_wait += wait.seconds();
    w.samples += batch.samples;
    samples_seen_ += batch.samples;
    // Gradient accumulation: only the last micro-batch's backward communicates.
    std::optional<dist::Reducer::NoSyncGuard> local_only;
    if (reducer_ && micro + 1 < accum)
      local_only.emplace(*reducer_);
    else if (reducer_)
      reducer_->prepare_backward();
    Losses losses = task_.compute(batch, ctx_);
    GTGM_CHECK(losses.total.defined() && losses.total.numel() == 1,
               "task {}: compute() must return a scalar total loss, got {}", task_.name(),
               losses.total.defined() ? fmt::format("shape {}", losses.total.sizes()) : std::string("nothing"));
    GTGM_CHECK(losses.total.requires_grad(), "task {}: the total loss does not require grad (nothing to train)",
               task_.name());
    const torch::Tensor total = losses.total.to(torch::kFloat);
    scaler_->scale(accum == 1 ? total : total / accum).backward();
    step_loss = add_to(step_loss, total.detach());
    for (size_t i = 0; i < losses.terms.size(); ++i) {
      const torch::Tensor v = losses.terms[i].second.detach().to(torch::kFloat).reshape({});
      if (micro == 0)
        step_terms.emplace_back(losses.terms[i].first, v.clone());
      else {
        GTGM_CHECK(i < step_terms.size() && step_terms[i].first == losses.terms[i].first,
                   "task {}: loss terms changed between micro-batches", task_.name());
        step_terms[i].second = step_terms[i].second + v;
      }
    }
  }
  if (accum > 1) {
    step_loss = step_loss / accum;
    for (auto& t : step_terms) t.second = t.second / accum;
  }

  if (reducer_) reducer_->finish();  // averaged gradients are in param.grad() from here on
  std::vector<torch::Tensor> grads = optimizer_->grads();
  scaler_->unscale_(grads);
  const torch::Tensor norm = global_grad_norm(grads).to(step_loss.device());
  if (cfg_.optim.grad_clip > 0) clip_grads_(grads, norm, cfg_.optim.grad_clip);
  // The one host synchronisation of a step: [loss non-finite, grad non-finite, scaler found inf,
  // stop requested]; with several processes the flags are OR-ed over ranks first, so every rank
  // skips the same steps and stops at the same step.
  torch::Tensor flags = torch::stack({step_loss.reshape({}).isfinite().logical_not().to(torch::kFloat),
                                      norm.isfinite().logical_not().to(torch::kFloat),
                                      scaler_->found_inf().to(step_loss.device()).reshape({}),
                                      torch::full({}, stop_requested() ? 1.0f : 0.0f, step_loss.options())});
  if (dist_.distributed()) dist::all_reduce_(flags, dist_, dist::ReduceOp::Max);
  flags = flags.cpu();
  const float* f = flags.data_ptr<float>();
  const bool loss_bad = f[0] > 0, grad_bad = f[1] > 0 || f[2] > 0;
  stop_agreed_ = f[3] > 0;
  bool applied = false;
  if (loss_bad || (grad_bad && !scaler_->enabled())) {
    ++nonfinite_run_;
    ++skipped_total_;
    ++w.skipped;
    GTGM_WARN("step {}: non-finite {}; step skipped ({} in a row, limit train.max_nonfinite = {})", step_ + 1,
              loss_bad ? "loss" : "gradient norm", nonfinite_run_, cfg_.train.max_nonfinite);
    if (nonfinite_run_ >= cfg_.train.max_nonfinite) {
      GTGM_THROW(
          "stopping at step {}: {} consecutive steps had a non-finite loss or gradient (train.max_nonfinite = "
          "{}). Lower optim.lr, check the data (NaN voxels?) or use run.precision=fp32; the checkpoints in {} "
          "hold finite weights only (a checkpoint is never written from diverged weights)",
          step_ + 1, nonfinite_run_, cfg_.train.max_nonfinite, checkpoints_root(run_dir_).string());
    }
  } else if (grad_bad) {
    // fp16 overflow: the scaler backs off; a normal event while the scale settles.
    ++skipped_total_;
    ++w.skipped;
    GTGM_DEBUG("step {}: fp16 gradient overflow, step skipped, loss scale backs off", step_ + 1);
  } else {
    optimizer_->set_lr(lr);
    optimizer_->step();
    nonfinite_run_ = 0;
    applied = true;
    last_lr_ = lr;
  }
  scaler_->update();
  if (!loss_bad) {
    w.loss_sum = add_to(w.loss_sum, step_loss);
    ++w.loss_count;
    ckpt_loss_sum_ = add_to(ckpt_loss_sum_, step_loss);
    ++ckpt_loss_count_;
    if (w.term_sums.empty())
      w.term_sums = step_terms;
    else {
      for (size_t i = 0; i < step_terms.size() && i < w.term_sums.size(); ++i) {
        w.term_sums[i].second = w.term_sums[i].second + step_terms[i].second;
      }
    }
  }
  if (applied) {
    w.grad_norm_sum = add_to(w.grad_norm_sum, norm);
    ++w.norm_count;
  }
  ++w.steps;
  ++step_;
  if (applied) task_.after_step(step_);
}

void Trainer::log_window(Window& w, core::Progress* progress) {
  if (w.steps == 0) return;
  const double seconds = std::max(w.watch.seconds(), 1e-9);
  MetricsRow row;
  row.step = step_;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Means over the window; with several processes, means over ranks too (every rank calls this
  // at the same step: the skip/stop flags are agreed).
  std::map<std::string, double> means;
  means["loss"] = w.loss_count > 0 ? w.loss_sum.item<double>() / static_cast<double>(w.loss_count) : nan;
  for (const auto& [name, sum] : w.term_sums) {
    means["loss/" + name] = sum.item<double>() / static_cast<double>(std::max<int64_t>(1, w.loss_count));
  }
  if (dist_.distributed()) means = dist::reduce_meters(means, dist_, dist::ReduceOp::Mean);
  const double loss = means["loss"];
  row.values.emplace_back("loss", loss);
  for (const auto& [name, sum] : w.term_sums) row.values.emplace_back("loss/" + name, means["loss/" + name]);
  row.values.emplace_back("lr", last_lr_);
  // Gradients are already averaged over ranks: the norm is the same everywhere.
  row.values.emplace_back("grad_norm",
                          w.norm_count > 0 ? w.grad_norm_sum.item<double>() / static_cast<double>(w.norm_count) : nan);
  const double world = static_cast<double>(dist_.world_size());
  row.values.emplace_back("samples_per_s", world * static_cast<double>(w.samples) / seconds);
  row.values.emplace_back("steps_per_s", static_cast<double>(w.steps) / seconds);
  row.values.emplace_back("data_wait", std::min(1.0, w.data_wait / seconds));
  const double mem = device_.is_cuda() ? static_cast<double>(core::compat::cuda_peak_allocated_bytes(device_.index()))
                                       : static_cast<double>(process_rss_bytes());
  row.values.emplace_back(device_.is_cuda() ? "cuda_peak_gb" : "rss_gb", mem / 1e9);
  row.values.emplace_back("skipped", static_cast<double>(w.skipped));
  if (scaler_->enabled()) row.values.emplace_back("loss_scale", scaler_->current_scale());
  if (dist_.rank() == 0) {
    metrics_->write(row);
    // log.txt keeps every metrics row as a line (the console shows the progress line instead).
    std::string line = fmt::format("step {}", row.step);
    for (const auto& [name, value] : row.values) line += fmt::format(" | {} {:.6g}", name, value);
    core::log_to_files_only(spdlog::level::info, line);
    if (progress != nullptr) {
      progress_extra_ = fmt::format("loss {:.4f} | lr {:.3g} | {:.1f} samples/s | data {:.0f}%", loss, last_lr_,
                                    static_cast<double>(w.samples) / seconds, 100.0 * w.data_wait / seconds);
      progress->update(step_, progress_extra_);
    }
  }
  if (options_.on_metrics) options_.on_metrics(row);
  w.reset();
}

void Trainer::run_validation() {
  auto& module = task_.module();
  module.eval();
  Validation v;
  {
    torch::NoGradGuard no_grad;
    v = task_.validate(step_, ctx_);
  }
  module.train();
  last_validation_ = v;
  MetricsRow row;
  row.step = step_;
  for (const auto& [k, value] : v.metrics) row.values.emplace_back("val/" + k, value);
  row.values.emplace_back("val/score", v.score);
  if (dist_.rank() == 0) metrics_->write(row);
  if (options_.on_metrics) options_.on_metrics(row);
  GTGM_INFO("step {}: validation score {:.5g}", step_, v.score);
}

TrainResult Trainer::run() {
  core::Stopwatch total_watch;
  std::optional<StopSignalScope> signals;
  if (options_.handle_signals) signals.emplace();
  clear_stop_request();
  TrainResult result;
  const int64_t total = cfg_.train.steps;
  // Checked on every rank (a shared file system), so no rank waits for one that gave up.
  if (resumed_from_ < 0 && options_.checkpoints && !list_checkpoints(run_dir_).empty()) {
    throw ConfigError(
        fmt::format("{} already holds checkpoints of a run; pass --resume {} to continue it, or set "
                    "run.dir to a new directory",
                    run_dir_.string(), run_dir_.string()));
  }
  if (dist_.rank() == 0) metrics_ = std::make_unique<MetricsWriter>(run_dir_, resumed_from_);
  std::unique_ptr<core::Progress> progress;
  if (options_.progress_out != nullptr)
    progress = std::make_unique<core::Progress>("train", total, "step", options_.progress_out);

  task_.module().train();
  Window w;
  w.reset();
  result.stop_reason = "finished";
  while (step_ < total) {
    train_step(w);
    const bool due_log = step_ % cfg_.train.log_every == 0 || step_ == total;
    const bool stop_signal_seen = stop_agreed_;
    const bool stop_after = options_.stop_after >= 0 && step_ >= options_.stop_after;
    if (due_log || stop_signal_seen || stop_after)
      log_window(w, progress.get());
    else if (progress)
      progress->update(step_, progress_extra_);
    if (task_.has_validation() && step_ % cfg_.train.validate_every == 0) run_validation();
    const bool stop = stop_signal_seen || stop_after;
    if (options_.checkpoints && (step_ % cfg_.train.checkpoint_every == 0 || step_ == total || stop)) {
      result.last_checkpoint = save_checkpoint();
    }
    if (stop) {
      result.interrupted = true;
      result.stop_reason =
          stop_signal_seen ? (stop_requested() ? stop_reason_text() : "stop on another rank") : "stop_after";
      GTGM_INFO("stopping at step {} ({}){}", step_, result.stop_reason,
                result.last_checkpoint.empty() ? "" : "; resume with --resume " + run_dir_.string());
      break;
    }
  }
  if (progress) progress->finish();
  result.step = step_;
  result.skipped_steps = skipped_total_;
  result.seconds = total_watch.seconds();
  return result;
}

}  // namespace gtgm::train
