#include "gtgm/app/suite_comparisons.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sstream>

#include "gtgm/app/suite.h"
#include "gtgm/config/load.h"

namespace gtgm::app {
namespace {

// How a paper-way metric is computed (docs/fidelity.md has the file:line of each).
std::string metric_definition(const std::string& paper_metric) {
  if (paper_metric == "dice_with_bg")
    return "Dice % with the background class: per case the mean over the classes present in its reference, "
           "background included (MONAI DiceMetric(include_background=True), reference finetune/task1.py:318), then "
           "the mean over the held-out cases";
  if (paper_metric == "voi")
    return "VOI (split + merge, lower is better) of the agglomerated affinity prediction on the held-out slices "
           "(finetune.affinity_merge, waterz threshold 0.5; reference NeuronSeg/main.py)";
  if (paper_metric == "arand") return "adapted Rand error (lower is better) on the held-out slices";
  if (paper_metric == "nsd") return "normalised surface Dice % at eval.nsd_tolerance_mm";
  if (paper_metric == "hd95") return "95th-percentile Hausdorff distance (mm)";
  return paper_metric;
}

std::string percent(double f) { return fmt::format("{:g}%", 100.0 * f); }

// The fine-tuning recipe of a dataset's runs, as the suite would run them.
std::string recipe(const config::SuiteConfig& suite, const config::SuiteDataset& ds, double fraction) {
  try {
    const config::SuiteInit random{"random", ""};
    const config::Config c = run_config(suite, ds, fraction, random);
    const bool em = c.finetune.task == config::FinetuneTask::Affinity;
    std::string split;
    if (em) {
      split = fmt::format("z split: the first {} of each volume trains, the rest is held out (finetune.em_train_z)",
                          percent(c.finetune.em_train_z));
    } else {
      split = fmt::format(
          "split: seed {} shuffle of dataset.json's list ({} order), held out = the last n - int({:g} n) cases "
          "(data.split_sizes {}); labelled = the first label_fraction x the {} part (data.label_fraction_of)",
          c.data.split_seed, config::to_string(c.data.split_order), c.data.train_fraction,
          config::to_string(c.data.split_sizes), config::to_string(c.data.label_fraction_of));
    }
    const std::string crop = c.data.crop_size.empty() ? std::string("auto (planned)")
                                                      : fmt::format("{}", fmt::join(c.data.crop_size, "x"));
    return fmt::format("{}\n    recipe: {} {} + {} decoder, crop {}, {} steps, {} lr {:g}, normalisation {}", split,
                       config::to_string(c.model.type), c.model.type == config::EncoderType::ResNet3d
                                                            ? fmt::format("depth {}", c.model.resnet3d.depth)
                                                            : std::string(),
                       config::to_string(c.model.decoder), crop, c.train.steps, config::to_string(c.optim.name),
                       c.optim.lr, config::to_string(c.data.preprocess.normalization));
  } catch (const std::exception& e) {
    return fmt::format("the fine-tuning config {} does not load: {}", ds.config.string(), e.what());
  }
}

}  // namespace

std::string paper_comparisons(const config::SuiteConfig& suite) {
  std::ostringstream ss;
  size_t published = 0, unpublished = 0;
  ss << "What each paper number is compared with (report.md puts it beside \"ours <init>, as paper\"):\n";
  for (const auto& ds : suite.datasets) {
    const std::string paper_metric = paper_way_metric(ds.metric);
    ss << fmt::format("  {} ({}; {}):\n    paper metric: {}\n    ours beside it: summary.json \"{}\"{}\n", ds.name,
                      ds.config.string(), ds.where, metric_definition(paper_metric), paper_metric,
                      paper_metric == ds.metric
                          ? std::string()
                          : fmt::format(" (the \"ours\" column keeps \"{}\", nnU-Net's foreground mean)", ds.metric));
    ss << "    " << recipe(suite, ds, ds.label_fractions.empty() ? 1.0 : ds.label_fractions.front()) << "\n";
    for (size_t k = 0; k < ds.label_fractions.size(); ++k) {
      const double f = ds.label_fractions[k];
      const std::string label = k < ds.fraction_labels.size() ? ds.fraction_labels[k] : percent(f);
      for (const auto& init : suite.inits) {
        std::optional<double> paper;
        for (const auto& [name, values] : ds.paper)
          if (name == init.name && k < values.size()) paper = values[k];
        const std::string run = run_dir(suite, ds.name, init.name, f).string();
        if (paper) {
          ++published;
          ss << fmt::format("    {:>6} {:<8} paper {:>7.2f}  <-  {} of {} (label_fraction {:g}, init {})\n", label,
                            init.name, *paper, paper_metric, run,
                            f, init.path.empty() ? std::string("random") : init.path);
        } else {
          ++unpublished;
          ss << fmt::format("    {:>6} {:<8} paper       -  (not published: {} is reported without a comparison)\n",
                            label, init.name, run);
        }
      }
    }
  }
  ss << fmt::format("{} published number(s) compared, {} cell(s) without a published number\n", published,
                    unpublished);
  return ss.str();
}

}  // namespace gtgm::app
