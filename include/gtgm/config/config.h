#pragma once
/// The whole configuration: one plain struct per YAML section, defaults everywhere.
#include "gtgm/config/data_config.h"
#include "gtgm/config/dist_config.h"
#include "gtgm/config/eval_config.h"
#include "gtgm/config/finetune_config.h"
#include "gtgm/config/loss_config.h"
#include "gtgm/config/model_config.h"
#include "gtgm/config/optim_config.h"
#include "gtgm/config/run_config.h"
#include "gtgm/config/text_config.h"
#include "gtgm/config/train_config.h"

namespace gtgm::config {

struct Config {
  RunConfig run;
  DataConfig data;
  ModelConfig model;
  TextConfig text;
  LossConfig loss;
  OptimConfig optim;
  TrainConfig train;
  DistConfig dist;
  EvalConfig eval;
  FinetuneConfig finetune;

  template <class V>
  void visit(V& v) {
    v.section("run", run, "Run directory, seed, device, precision, logging.");
    v.section("data", data, "Dataset, preprocessing cache, crops and loader.");
    v.section("model", model, "Image encoder, decoder and projection heads.");
    v.section("text", text, "Frozen text encoder and caption caches.");
    v.section("loss", loss, "Pretraining objective.");
    v.section("optim", optim, "Optimiser and schedule.");
    v.section("train", train, "Step loop, checkpoints, validation.");
    v.section("dist", dist, "Distributed training.");
    v.section("eval", eval, "Inference and metrics.");
    v.section("finetune", finetune, "Segmentation / EM affinity fine-tuning (gtgm finetune).");
  }
};

}  // namespace gtgm::config
