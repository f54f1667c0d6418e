#pragma once
/// Cuts the whole config into what each training component reads (train/ never sees a whole
/// Config), and the one check that does compare whole configs: a checkpoint's against the run
/// resuming it.
#include <string>
#include <vector>

#include "gtgm/config/config.h"
#include "gtgm/train/pretrain_task.h"
#include "gtgm/train/segmentation_task.h"
#include "gtgm/train/trainer.h"

namespace gtgm::app {

/// The Trainer's sections of `cfg`, its resolved YAML (stored in every checkpoint) and
/// check_resume_config as the resume check.
train::TrainerConfig trainer_config(const config::Config& cfg);
/// The sections PretrainTask reads.
train::PretrainTaskConfig pretrain_task_config(const config::Config& cfg);
/// The sections SegmentationTask and AffinityTask read.
train::FinetuneTaskConfig finetune_task_config(const config::Config& cfg);

/// Config keys that may differ between a checkpoint and the run resuming it (output locations,
/// logging, horizon and cadence, data/model paths that move between machines, loader threads).
const std::vector<std::string>& resume_whitelist();
/// Differences ("key: saved -> current") between the checkpoint's config and this run's, without
/// the whitelisted keys. Empty when the run may resume.
std::vector<std::string> resume_config_mismatches(const config::Config& saved, const config::Config& current);
/// Throws gtgm::ConfigError listing resume_config_mismatches() when there are any.
void check_resume_config(const config::Config& saved, const config::Config& current, const std::string& checkpoint);

}  // namespace gtgm::app
