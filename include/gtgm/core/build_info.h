#pragma once
/// What this binary was built with and what the machine offers: printed by `gtgm info`.
#include <string>
#include <utility>
#include <vector>

namespace gtgm::core {

/// gtgm version ("0.1.0").
std::string gtgm_version();
/// Git hash of the source tree at configure time ("unknown" outside git).
std::string gtgm_git_hash();
/// (name, value) rows: gtgm, git, LibTorch, CUDA, cuDNN, NCCL, Gloo, devices, threads, bf16.
std::vector<std::pair<std::string, std::string>> build_info_rows();

}  // namespace gtgm::core
