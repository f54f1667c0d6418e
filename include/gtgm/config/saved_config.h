#pragma once
/// Loading the config a run saved (RUN_DIR/config.resolved.yaml, a checkpoint's config.yaml).
#include <string>
#include <vector>

#include "gtgm/config/config.h"

namespace gtgm::config {

/// load_config_string for a config that gtgm itself wrote. Such a file lists every key, so a key
/// it lacks was added to gtgm after the run; a key whose default then changed what the run built
/// gets the value the earlier gtgm used instead of today's default, before `sets` apply:
///  - model.stem_pool_stride: 2 on every axis (the resnet3d max-pool stride before the key existed;
///    today's default is the reference code's 1x2x2);
///  - data.em_pretrain_z: 1 (EM pretraining sampled whole volumes, test slices included).
Config load_saved_config(const std::string& yaml, const std::string& name, const std::vector<std::string>& sets = {});

}  // namespace gtgm::config
