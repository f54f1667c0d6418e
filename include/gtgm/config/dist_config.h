#pragma once
#include <string>

#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `dist:` c10d process group (torchrun / Slurm environment decides rank and world size).
struct DistConfig {
  std::string backend = "auto";
  int timeout_s = 600;
  double bucket_mb = 25.0;

  template <class V>
  void visit(V& v) {
    v.field("backend", backend, "auto = nccl on CUDA, gloo on CPU.", one_of({"auto", "nccl", "gloo"}));
    v.field("timeout_s", timeout_s, "Collective / rendezvous timeout; a dead rank fails the others after it.", ge(1));
    v.field("bucket_mb", bucket_mb, "Gradient all-reduce bucket size (MB).", gt(0));
  }
};

}  // namespace gtgm::config
