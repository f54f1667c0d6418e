#pragma once
/// The one step loop of gtgm. Per optimiser step: `optim.accumulation` micro-batches of
/// task.next_batch() -> task.compute() -> backward (fp16: scaled), then gradient unscale, global
/// norm and clipping, a single host synchronisation on a flags tensor (non-finite loss, non-finite
/// gradients, stop request), the optimiser step at the schedule's learning rate (or a skipped
/// step), metrics every `train.log_every` steps (loss sums stay on the device until then),
/// validation every `train.validate_every`, checkpoints every `train.checkpoint_every` and at the
/// end, and a checkpoint + clean return on SIGINT/SIGTERM.
#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "gtgm/config/data_config.h"
#include "gtgm/config/dist_config.h"
#include "gtgm/config/optim_config.h"
#include "gtgm/config/run_config.h"
#include "gtgm/config/train_config.h"
#include "gtgm/core/device.h"
#include "gtgm/core/progress.h"
#include "gtgm/dist/context.h"
#include "gtgm/dist/reducer.h"
#include "gtgm/train/grad_scaler.h"
#include "gtgm/train/metrics.h"
#include "gtgm/train/optim.h"
#include "gtgm/train/task.h"

namespace gtgm::train {

/// What the Trainer reads of the config: its sections, the resolved config text every checkpoint
/// stores, and the check a checkpoint's config must pass before resume() restores anything.
/// app::trainer_config fills it from a whole config.
struct TrainerConfig {
  config::RunConfig run;      ///< dir, precision, deterministic
  config::TrainConfig train;  ///< horizon, cadence, loss scaling, cudnn_benchmark, channels_last
  config::OptimConfig optim;  ///< optimiser, schedule, accumulation, clipping
  config::DistConfig dist;    ///< bucket_mb
  config::DataConfig data;    ///< pin_memory
  /// The whole resolved config (config::to_yaml), written into every checkpoint.
  std::string config_yaml;
  /// Called by resume() with the checkpoint's config text and dir; throws to refuse the checkpoint
  /// (app::check_resume_config). Null = no check.
  std::function<void(const std::string& saved_config_yaml, const std::string& checkpoint)> check_resume;
  /// model.sync_bn: with several processes, every batch norm of the task's module normalises over
  /// the global batch (train::enable_sync_batch_norm).
  bool sync_bn = false;
};

struct TrainerOptions {
  /// Where metrics and checkpoints go; empty = config run.dir.
  std::filesystem::path run_dir;
  /// Progress line output (nullptr = none).
  std::FILE* progress_out = stderr;
  /// Stop (with a checkpoint, like a signal) once this many steps are done; -1 = run to train.steps.
  int64_t stop_after = -1;
  /// Install SIGINT/SIGTERM handlers for the duration of run().
  bool handle_signals = true;
  /// Write checkpoints (the bench turns them off).
  bool checkpoints = true;
  /// Called with every metrics row after it is written (tests, the bench).
  std::function<void(const MetricsRow&)> on_metrics;
};

/// How run() ended.
struct TrainResult {
  int64_t step = 0;                       ///< steps done (including skipped ones)
  int64_t skipped_steps = 0;              ///< steps skipped for a non-finite loss or gradient
  bool interrupted = false;               ///< stopped early by a signal or stop_after
  std::string stop_reason;                ///< "finished", "SIGTERM", "SIGINT", "stop_after", "request"
  std::filesystem::path last_checkpoint;  ///< empty when none was written
  double seconds = 0;                     ///< wall time of run()
};

class Trainer {
 public:
  /// Builds the optimiser over task.module() (already on `device`), the grad scaler (fp16) and the
  /// precision from `cfg.run.precision`. Sets cuDNN autotuning on CUDA (train.cudnn_benchmark).
  /// In a distributed job (dist::global() with world > 1) it also builds the gradient Reducer,
  /// which broadcasts rank 0's parameters and buffers: every rank then starts identical. Rank 0
  /// alone writes metrics and checkpoints; each rank's loader and RNG states go into the checkpoint.
  Trainer(TrainerConfig cfg, Task& task, const torch::Device& device, TrainerOptions options = {});
  ~Trainer();

  /// Continues from `path` (a checkpoint dir, or a run dir: its newest checkpoint that verifies).
  /// Restores weights, optimiser, grad scaler, step, counters, task/loader state and every RNG.
  /// First hands the checkpoint's config to TrainerConfig::check_resume (app: throws ConfigError
  /// with the keys that differ outside app::resume_whitelist()).
  void resume(const std::filesystem::path& path);

  /// Trains from the current step to train.steps (or a stop). Returns how it ended; throws
  /// gtgm::Error after train.max_nonfinite consecutive non-finite steps.
  TrainResult run();

  /// Writes a checkpoint of the current state now (rank 0) and prunes old ones; returns its dir.
  std::filesystem::path save_checkpoint();

  int64_t step() const { return step_; }
  core::Precision precision() const { return precision_; }
  Optimizer& optimizer() { return *optimizer_; }
  const GradScaler& grad_scaler() const { return *scaler_; }
  const std::filesystem::path& run_dir() const { return run_dir_; }
  /// The context handed to the task for the current step.
  const StepContext& context() const { return ctx_; }

 private:
  struct Window;
  void train_step(Window& w);
  void log_window(Window& w, core::Progress* progress);
  void run_validation();
  void update_best_candidate();
  nlohmann::json local_rank_state() const;
  void restore_local_rank_state(const nlohmann::json& state);

  TrainerConfig cfg_;
  Task& task_;
  torch::Device device_;
  TrainerOptions options_;
  std::filesystem::path run_dir_;
  core::Precision precision_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<GradScaler> scaler_;
  dist::Context dist_;
  std::unique_ptr<dist::Reducer> reducer_;
  std::unique_ptr<MetricsWriter> metrics_;
  StepContext ctx_;

  int64_t step_ = 0;
  int64_t resumed_from_ = -1;
  int64_t nonfinite_run_ = 0;
  int64_t skipped_total_ = 0;
  int64_t samples_seen_ = 0;
  double last_lr_ = 0;
  // Best checkpoint: the latest validation score, or (no validation) the mean loss since the last
  // checkpoint, lower is better.
  std::optional<Validation> last_validation_;
  torch::Tensor ckpt_loss_sum_;
  int64_t ckpt_loss_count_ = 0;
  nlohmann::json best_ = nullptr;
  std::string progress_extra_;
  bool stop_agreed_ = false;
};

}  // namespace gtgm::train
