// `gtgm finetune --fold all`: every fold of a k-fold cross-validation in its own run dir.
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "gtgm/app/finetune.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/train/checkpoint.h"

namespace gtgm::app {

namespace fs = std::filesystem;

std::vector<FinetuneResult> run_finetune_folds(const config::Config& cfg, const FinetuneOptions& options) {
  GTGM_CHECK(options.resume.empty(),
             "finetune --fold all: resume by running the same command again (finished folds are kept, interrupted "
             "ones resumed); --resume names one fold's run dir");
  const fs::path root = cfg.run.dir;
  std::vector<FinetuneResult> results;
  nlohmann::ordered_json folds = nlohmann::ordered_json::array();
  std::map<std::string, std::vector<double>> per_metric;
  for (int k = 0; k < cfg.data.num_folds; ++k) {
    config::Config fold_cfg = cfg;
    fold_cfg.data.fold = k;
    fold_cfg.run.dir = (root / ("fold_" + std::to_string(k))).string();
    const fs::path dir = fold_cfg.run.dir;
    FinetuneOptions o = options;
    const auto checkpoints = train::list_checkpoints(dir);
    const bool trained = !checkpoints.empty() && checkpoints.front().first >= cfg.train.steps;
    const bool finished = options.predict && cfg.finetune.predict_test ? fs::exists(dir / "finetune.json") : trained;
    nlohmann::ordered_json entry{{"fold", k}, {"run_dir", dir.string()}};
    if (finished) {
      GTGM_INFO("fold {} of {}: finished earlier in {}, kept", k, cfg.data.num_folds, dir.string());
      if (fs::exists(dir / "finetune.json")) {
        const auto j = nlohmann::json::parse(core::read_text_file(dir / "finetune.json"));
        entry["mean_metrics"] = j.value("mean_metrics", nlohmann::json::object());
      }
    } else {
      if (!checkpoints.empty()) o.resume = dir.string();
      GTGM_INFO("fold {} of {}: {} in {}", k, cfg.data.num_folds, o.resume.empty() ? "training" : "resuming",
                dir.string());
      FinetuneResult r = run_finetune(fold_cfg, o);
      if (r.train.interrupted) {
        GTGM_INFO("fold {} stopped at step {} ({}); run the same command again to continue", k, r.train.step,
                  r.train.stop_reason);
        results.push_back(std::move(r));
        return results;
      }
      nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
      for (const auto& [name, v] : r.mean_metrics)
        metrics[name] = std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
      entry["mean_metrics"] = metrics;
      results.push_back(std::move(r));
    }
    if (entry.contains("mean_metrics")) {
      for (const auto& [name, v] : entry["mean_metrics"].items())
        if (v.is_number()) per_metric[name].push_back(v.get<double>());
    }
    folds.push_back(entry);
  }
  nlohmann::ordered_json mean = nlohmann::ordered_json::object();
  for (const auto& [name, values] : per_metric) {
    double sum = 0;
    for (double v : values) sum += v;
    mean[name] = {{"mean", sum / static_cast<double>(values.size())}, {"folds", values.size()}};
  }
  nlohmann::ordered_json j{{"num_folds", cfg.data.num_folds}, {"folds", folds}, {"mean_over_folds", mean}};
  fs::create_directories(root);
  core::atomic_write_text(root / "folds.json", j.dump(2) + "\n");
  return results;
}

}  // namespace gtgm::app
