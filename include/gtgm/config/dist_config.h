#pragma once
#include <string>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `dist.backend`.
enum class DistBackend { Auto, NCCL, Gloo };
template <>
struct EnumNames<DistBackend> {
  static constexpr std::pair<DistBackend, const char*> items[] = {
      {DistBackend::Auto, "auto"}, {DistBackend::NCCL, "nccl"}, {DistBackend::Gloo, "gloo"}};
};

/// `dist:` c10d process group (torchrun / Slurm environment decides rank and world size).
struct DistConfig {
  DistBackend backend = DistBackend::Auto;
  int timeout_s = 600;
  double bucket_mb = 25.0;

  template <class V>
  void visit(V& v) {
    v.field("backend", backend, "auto = nccl on CUDA, gloo on CPU.");
    v.field("timeout_s", timeout_s, "Collective / rendezvous timeout; a dead rank fails the others after it.", ge(1));
    v.field("bucket_mb", bucket_mb, "Gradient all-reduce bucket size (MB).", gt(0));
  }
};

}  // namespace gtgm::config
