#pragma once
// c10d API differences between LibTorch 1.13 and 2.x, in one place (private to dist/).
// - 1.13: ProcessGroupGloo / ProcessGroupNCCL derive from c10d::ProcessGroup.
//   2.x:  they derive from c10d::Backend (ProcessGroup became a dispatcher front end that needs
//         the Python-registered ops); gtgm drives the backend object directly in both.
// - TCPStoreOptions::numWorkers is c10::optional (1.13) / std::optional (2.x): both accept an int.
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include "gtgm/core/torch_compat.h"

#if GTGM_TORCH_AT_LEAST(2, 0)
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#ifdef GTGM_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef GTGM_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace gtgm::dist::compat {

#if GTGM_TORCH_AT_LEAST(2, 0)
/// The common base of the Gloo and NCCL backends.
using Backend = c10d::Backend;
#else
using Backend = c10d::ProcessGroup;
#endif
using WorkPtr = c10::intrusive_ptr<c10d::Work>;

/// A TCPStore: rank 0 hosts the server and waits for `world` clients; the others connect.
/// `count_as_worker` false for extra connections (the heartbeat client) so they are not counted.
inline c10::intrusive_ptr<c10d::TCPStore> make_tcp_store(const std::string& host, int port, int world, bool server,
                                                         std::chrono::milliseconds timeout, bool count_as_worker) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = server;
  if (count_as_worker) opts.numWorkers = static_cast<std::size_t>(world);
  opts.waitWorkers = count_as_worker;
  opts.timeout = timeout;
#if GTGM_TORCH_AT_LEAST(2, 4)
  // libuv's server needs a libuv-enabled build; the classic one is in every build.
  opts.useLibUV = false;
#endif
  return c10::make_intrusive<c10d::TCPStore>(host, opts);
}

}  // namespace gtgm::dist::compat
