#pragma once
// The c10d process group of a gtgm job (private to dist/ and its tests): a TCPStore hosted by
// rank 0, a Gloo or NCCL backend, and a heartbeat so that a failed or timed-out collective is
// reported naming the rank that died, hung or left, instead of an anonymous socket error.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "c10d_compat.h"
#include "gtgm/config/dist_config.h"
#include "gtgm/dist/collectives.h"

namespace gtgm::dist {

/// How to build a group.
struct GroupOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  config::DistBackend backend = config::DistBackend::Gloo;  // Gloo | NCCL (resolved, never Auto)
  torch::Device device = torch::kCPU;
  std::chrono::milliseconds timeout{600000};
};

class ProcessGroup;

/// An asynchronous collective; wait() rethrows a failure as a gtgm::Error naming the culprit.
class Work {
 public:
  Work() = default;
  Work(compat::WorkPtr work, ProcessGroup* group, std::string op, int64_t seq)
      : work_(std::move(work)), group_(group), op_(std::move(op)), seq_(seq) {}
  /// Blocks until done (for NCCL: until the current CUDA stream is ordered after it).
  void wait();
  bool valid() const { return static_cast<bool>(work_); }

 private:
  compat::WorkPtr work_;
  ProcessGroup* group_ = nullptr;
  std::string op_;
  int64_t seq_ = 0;
};

class ProcessGroup {
 public:
  /// Rendezvous + backend creation; throws gtgm::Error naming MASTER_ADDR:PORT on failure.
  explicit ProcessGroup(const GroupOptions& options);
  /// Leaves the job: stops the heartbeat, records "finished" (or "error" while unwinding or
  /// after a failure) for the others' diagnosis, and rank 0 keeps the store up until every
  /// rank has left (bounded by the timeout).
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return opts_.rank; }
  int world_size() const { return opts_.world_size; }
  const GroupOptions& options() const { return opts_; }

  /// Asynchronous collectives (tensors must live on the backend's device, be contiguous).
  Work allreduce(std::vector<at::Tensor>& tensors, ReduceOp op = ReduceOp::Sum);
  Work allgather(std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs);
  Work broadcast(std::vector<at::Tensor>& tensors, int root);
  /// Blocking barrier.
  void barrier();

  /// Rethrows a failure of collective `seq` ("allreduce") as a gtgm::Error with a diagnosis:
  /// which ranks stopped (no heartbeat), left, or lag behind `seq`.
  [[noreturn]] void fail(const std::string& op, int64_t seq, const std::string& cause);
  /// The diagnosis alone (reads the heartbeats twice, a few heartbeat periods apart).
  std::string diagnose(int64_t seq);
  /// The heartbeat period (derived from the timeout).
  std::chrono::milliseconds heartbeat_period() const { return period_; }

 private:
  int64_t next_seq(const std::string& op);
  void heartbeat_loop();
  void write_heartbeat(c10d::Store& store, int64_t beat);

  GroupOptions opts_;
  std::chrono::milliseconds op_timeout_;
  std::chrono::milliseconds period_;
  c10::intrusive_ptr<c10d::TCPStore> tcp_store_;
  c10::intrusive_ptr<c10d::Store> meta_store_;  // gtgm/ keys: heartbeats, exits
  c10::intrusive_ptr<compat::Backend> backend_;
  std::atomic<int64_t> seq_{0};
  std::atomic<bool> failed_{false};
  std::mutex last_op_mutex_;
  std::string last_op_;
  // heartbeat thread
  std::thread heartbeat_;
  std::mutex hb_mutex_;
  std::condition_variable hb_cv_;
  bool hb_stop_ = false;
};

}  // namespace gtgm::dist
