#include "process_group.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <future>
#include <map>
#include <optional>
#include <sstream>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"

namespace gtgm::dist {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string first_line(const std::string& s) {
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

bool is_loopback(const std::string& host) { return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0; }

// Runs `fn` on a detached thread and waits at most `deadline`; nullopt (and `error` set) on a
// timeout or an exception. Store operations block without a socket timeout when the store's host
// is frozen, and a failure path must never hang on them. `fn` must own (capture by value)
// everything it touches: after a timeout it outlives this call.
template <class F>
auto call_with_deadline(F fn, std::chrono::milliseconds deadline, std::string* error = nullptr)
    -> std::optional<decltype(fn())> {
  using T = decltype(fn());
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> result = promise->get_future();
  std::thread([fn = std::move(fn), promise]() mutable {
    try {
      promise->set_value(fn());
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  }).detach();
  if (result.wait_for(deadline) != std::future_status::ready) {
    if (error) *error = fmt::format("no answer within {:.1f} s", seconds(deadline));
    return std::nullopt;
  }
  try {
    return result.get();
  } catch (const std::exception& e) {
    if (error) *error = first_line(e.what());
    return std::nullopt;
  }
}

// One rank's heartbeat record: "beat seq state op".
struct Beat {
  int64_t beat = -1;
  int64_t seq = 0;
  std::string state;  // alive | finished | error
  std::string op;
};

std::string encode(const Beat& b) { return fmt::format("{} {} {} {}", b.beat, b.seq, b.state, b.op); }

Beat decode(const std::vector<uint8_t>& raw) {
  std::istringstream in(std::string(raw.begin(), raw.end()));
  Beat b;
  in >> b.beat >> b.seq >> b.state >> b.op;
  return b;
}

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string hb_key(int rank) { return "hb/" + std::to_string(rank); }
// How a rank left ("finished" / "error"). A key of its own: the heartbeat thread's last write
// travels on another connection and could land after it.
std::string exit_key(int rank) { return "exit/" + std::to_string(rank); }

// Reads every rank's heartbeat record (missing ranks are absent from the map); a rank that left
// has the state it left with.
std::map<int, Beat> read_beats(const c10::intrusive_ptr<c10d::Store>& store, int world) {
  std::map<int, Beat> out;
  for (int r = 0; r < world; ++r) {
    if (store->check({hb_key(r)})) out[r] = decode(store->get(hb_key(r)));
    if (store->check({exit_key(r)})) {
      const auto raw = store->get(exit_key(r));
      out[r].state = std::string(raw.begin(), raw.end());
    }
  }
  return out;
}

c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return c10d::ReduceOp::SUM;
    case ReduceOp::Max:
      return c10d::ReduceOp::MAX;
    case ReduceOp::Min:
      return c10d::ReduceOp::MIN;
    case ReduceOp::Mean:
      break;
  }
  GTGM_THROW("ReduceOp::Mean is applied by dist::all_reduce_ (sum, then divide), not by the backend");
}

std::string join_ranks(const std::vector<int>& ranks) {
  std::string s;
  for (std::size_t i = 0; i < ranks.size(); ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  return s;
}

}  // namespace

void Work::wait() {
  if (!work_) return;
  try {
    work_->wait();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    group_->fail(op_, seq_, e.what());
  }
}

ProcessGroup::ProcessGroup(const GroupOptions& o) : opts_(o) {
  GTGM_CHECK(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size, "ProcessGroup: bad rank {} / world {}", o.rank,
             o.world_size);
  // The backend's own timeout leaves room for the diagnosis, so that the whole failure report
  // happens within the configured timeout.
  op_timeout_ = std::max<std::chrono::milliseconds>(o.timeout * 8 / 10, 100ms);
  period_ = std::clamp<std::chrono::milliseconds>(o.timeout / 25, 100ms, 5000ms);
  const std::string where = fmt::format("{}:{}", o.master_addr, o.master_port);

  try {
    tcp_store_ = compat::make_tcp_store(o.master_addr, o.master_port, o.world_size, o.rank == 0, o.timeout, true);
  } catch (const std::exception& e) {
    GTGM_THROW(
        "rendezvous failed: rank {} of {} could not {} the store at MASTER_ADDR:MASTER_PORT={} within "
        "dist.timeout_s={:.0f} s ({}); check that every rank was started with the same MASTER_ADDR/"
        "MASTER_PORT and that rank 0 can listen on that port",
        o.rank, o.world_size, o.rank == 0 ? "host (and gather every rank at)" : "reach", where, seconds(o.timeout),
        first_line(e.what()));
  }
  meta_store_ = c10::make_intrusive<c10d::PrefixStore>("gtgm", tcp_store_);
  meta_store_->set(hb_key(o.rank), bytes(encode({0, 0, "alive", "init"})));
  auto pg_store = c10::make_intrusive<c10d::PrefixStore>("pg", tcp_store_);

  try {
    if (o.backend == config::DistBackend::Gloo) {
#ifdef GTGM_HAVE_GLOO
      auto gopts = c10d::ProcessGroupGloo::Options::create(op_timeout_);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
        gopts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else if (is_loopback(o.master_addr)) {
        gopts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        gopts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      backend_ = c10::make_intrusive<c10d::ProcessGroupGloo>(pg_store, o.rank, o.world_size, gopts);
#else
      throw ConfigError(
          "dist.backend=gloo: this gtgm was built without c10d Gloo (install libgloo-dev and reconfigure)");
#endif
    } else if (o.backend == config::DistBackend::NCCL) {
#ifdef GTGM_HAVE_NCCL
      auto nopts = c10d::ProcessGroupNCCL::Options::create();
      nopts->timeout = op_timeout_;
      backend_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(pg_store, o.rank, o.world_size, nopts);
#else
      throw ConfigError("dist.backend=nccl: this gtgm was built without NCCL (needs a CUDA LibTorch)");
#endif
    } else {
      throw ConfigError(fmt::format("dist.backend='{}': expected gloo or nccl", config::to_string(o.backend)));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::vector<int> missing;
    auto store = meta_store_;
    const int world = o.world_size;
    if (auto beats = call_with_deadline([store, world]() { return read_beats(store, world); }, 5s)) {
      for (int r = 0; r < world; ++r) {
        if (!beats->count(r)) missing.push_back(r);
      }
    }
    const std::string who = missing.empty() ? std::string("every rank reached the store")
                                            : fmt::format("rank(s) {} never joined", join_ranks(missing));
    GTGM_THROW(
        "rendezvous failed: the {} process group of {} ranks at MASTER_ADDR:MASTER_PORT={} could not be formed within "
        "dist.timeout_s={:.0f} s: {} ({})",
        config::to_string(o.backend), o.world_size, where, seconds(o.timeout), who, first_line(e.what()));
  }
  heartbeat_ = std::thread(&ProcessGroup::heartbeat_loop, this);
}

ProcessGroup::~ProcessGroup() {
  const bool error = failed_.load() || std::uncaught_exceptions() > 0;
  {
    std::lock_guard<std::mutex> lock(hb_mutex_);
    hb_stop_ = true;
  }
  hb_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();

  // Tell the others how this rank left, then count it out. Bounded: the store's host may be gone.
  auto store = meta_store_;
  const std::string state = error ? "error" : "finished";
  const int rank = opts_.rank;
  const auto bound = std::min<std::chrono::milliseconds>(opts_.timeout, 10s);
  call_with_deadline(
      [store, rank, state]() {
        store->set(exit_key(rank), bytes(state));
        return store->add("left", 1);
      },
      bound);
  // Rank 0 hosts the store: keep it up until every rank has left (or gave up), so that the last
  // messages of the others still reach it.
  if (rank == 0) {
    if (!error) {
      const auto deadline = Clock::now() + std::min<std::chrono::milliseconds>(opts_.timeout, 60s);
      while (Clock::now() < deadline) {
        const auto left = call_with_deadline([store]() { return store->add("left", 0); }, bound);
        if (!left || *left >= opts_.world_size) break;
        std::this_thread::sleep_for(20ms);
      }
    } else {
      // The others learn "rank 0 stopped with an error" from the store before it disappears.
      backend_.reset();
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(period_ * 3, 3s));
    }
  }
  try {
#if defined(GTGM_HAVE_NCCL) && GTGM_TORCH_AT_LEAST(2, 4)
    // LibTorch 2.x wants NCCL communicators shut down explicitly before the group goes away.
    if (!error && backend_ && opts_.backend == config::DistBackend::NCCL)
      static_cast<c10d::ProcessGroupNCCL*>(backend_.get())->shutdown();
#endif
    backend_.reset();
  } catch (...) {
  }
  meta_store_.reset();
  tcp_store_.reset();
}

void ProcessGroup::write_heartbeat(c10d::Store& store, int64_t beat) {
  std::string op;
  {
    std::lock_guard<std::mutex> lock(last_op_mutex_);
    op = last_op_.empty() ? "none" : last_op_;
  }
  store.set(hb_key(opts_.rank), bytes(encode({beat, seq_.load(), failed_ ? "error" : "alive", op})));
}

void ProcessGroup::heartbeat_loop() {
  // Its own connection: the main thread's client may be blocked in a long store wait.
  c10::intrusive_ptr<c10d::Store> store;
  try {
    auto tcp =
        compat::make_tcp_store(opts_.master_addr, opts_.master_port, opts_.world_size, false, opts_.timeout, false);
    store = c10::make_intrusive<c10d::PrefixStore>("gtgm", tcp);
  } catch (const std::exception& e) {
    GTGM_WARN(
        "heartbeat: could not connect to the store at {}:{} ({}); failures will be reported without naming "
        "the rank",
        opts_.master_addr, opts_.master_port, first_line(e.what()));
    return;
  }
  int64_t beat = 1;
  std::unique_lock<std::mutex> lock(hb_mutex_);
  while (!hb_stop_) {
    lock.unlock();
    try {
      write_heartbeat(*store, beat++);
    } catch (const std::exception&) {
      return;  // the store's host is gone; the collectives will report it
    }
    lock.lock();
    hb_cv_.wait_for(lock, period_, [this] { return hb_stop_; });
  }
}

int64_t ProcessGroup::next_seq(const std::string& op) {
  {
    std::lock_guard<std::mutex> lock(last_op_mutex_);
    last_op_ = op;
  }
  return ++seq_;
}

std::string ProcessGroup::diagnose(int64_t seq) {
  const int world = opts_.world_size;
  auto store = meta_store_;
  const auto bound = std::max<std::chrono::milliseconds>(period_ * 2, 1s);
  std::string err;
  const std::string where = fmt::format("{}:{}", opts_.master_addr, opts_.master_port);
  auto unreachable = [&](const std::string& why) {
    return fmt::format(
        "the rendezvous store hosted by rank 0 at {} does not answer ({}): rank 0 died, was killed, "
        "hangs or exited with an error",
        where, why);
  };
  auto read = [&]() { return call_with_deadline([store, world]() { return read_beats(store, world); }, bound, &err); };
  auto first_read = read();
  if (!first_read) return opts_.rank == 0 ? "the local store does not answer (" + err + ")" : unreachable(err);
  std::map<int, Beat> first = *first_read, second;
  bool any_exit = false;
  for (const auto& [r, b] : first) any_exit |= (r != opts_.rank && b.state != "alive");
  // A heartbeat that does not advance over a few periods marks a dead or frozen rank.
  const auto gap = period_ * 5 / 2;
  if (!any_exit) {
    std::this_thread::sleep_for(gap);
    auto second_read = read();
    if (!second_read) return opts_.rank == 0 ? "the local store does not answer (" + err + ")" : unreachable(err);
    second = *second_read;
  } else {
    second = first;
  }
  std::vector<std::string> findings;
  for (int r = 0; r < world; ++r) {
    if (r == opts_.rank) continue;
    if (!second.count(r)) {
      findings.push_back(fmt::format("rank {} never joined", r));
      continue;
    }
    const Beat& b = second[r];
    if (b.state == "error") {
      findings.push_back(fmt::format("rank {} stopped with an error (see its log)", r));
    } else if (b.state == "finished") {
      findings.push_back(fmt::format("rank {} finished and left after {} collectives", r, b.seq));
    } else if (!any_exit && first.count(r) && first[r].beat == b.beat) {
      findings.push_back(fmt::format(
          "rank {} stopped responding: no heartbeat for {:.1f} s (killed, crashed or frozen)", r, seconds(gap)));
    } else if (b.seq < seq) {
      findings.push_back(
          fmt::format("rank {} is alive but has not reached this collective (it is at #{} {}): it is "
                      "stuck elsewhere or runs a different code path",
                      r, b.seq, b.op));
    }
  }
  if (findings.empty()) {
    return "every rank is alive and reached this collective; check that all ranks call the same collectives with "
           "the same shapes and dtypes";
  }
  std::string s;
  for (std::size_t i = 0; i < findings.size(); ++i) s += (i ? "; " : "") + findings[i];
  return s;
}

void ProcessGroup::fail(const std::string& op, int64_t seq, const std::string& cause) {
  const bool first_failure = !failed_.exchange(true);
  // Publish the error state at once (bounded), so the others name this rank correctly.
  auto store = meta_store_;
  const int rank = opts_.rank;
  call_with_deadline(
      [store, rank]() {
        store->set(exit_key(rank), bytes("error"));
        return true;
      },
      1s);
  const std::string diagnosis = first_failure ? diagnose(seq) : "an earlier collective already failed on this rank";
  GTGM_THROW("distributed failure: collective #{} ({}) failed on rank {} of {}: {}. Cause: {}", seq, op, opts_.rank,
             opts_.world_size, diagnosis, first_line(cause));
}

Work ProcessGroup::allreduce(std::vector<at::Tensor>& tensors, ReduceOp op) {
  const int64_t seq = next_seq("allreduce");
  try {
    c10d::AllreduceOptions o;
    o.reduceOp = to_c10d(op);
    return Work(backend_->allreduce(tensors, o), this, "allreduce", seq);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("allreduce", seq, e.what());
  }
}

Work ProcessGroup::allgather(std::vector<std::vector<at::Tensor>>& outputs, std::vector<at::Tensor>& inputs) {
  const int64_t seq = next_seq("allgather");
  try {
    return Work(backend_->allgather(outputs, inputs), this, "allgather", seq);
  } catch (const std::exception& e) {
    fail("allgather", seq, e.what());
  }
}

Work ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int root) {
  const int64_t seq = next_seq("broadcast");
  try {
    c10d::BroadcastOptions o;
    o.rootRank = root;
    return Work(backend_->broadcast(tensors, o), this, "broadcast", seq);
  } catch (const std::exception& e) {
    fail("broadcast", seq, e.what());
  }
}

void ProcessGroup::barrier() {
  const int64_t seq = next_seq("barrier");
  compat::WorkPtr w;
  try {
    w = backend_->barrier(c10d::BarrierOptions());
  } catch (const std::exception& e) {
    fail("barrier", seq, e.what());
  }
  Work(std::move(w), this, "barrier", seq).wait();
}

}  // namespace gtgm::dist
