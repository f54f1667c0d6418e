#pragma once
/// A bounded, ordered prefetcher: N worker threads build items 0, 1, 2, ... (item i by whichever
/// worker is free; the result depends only on i) while the consumer takes them in order. At most
/// `capacity` items are built or waiting at any time, so memory stays bounded however slow the
/// consumer is. A worker's exception is delivered to the consumer when it reaches that item,
/// wrapped with the worker and item number; the other items keep flowing until then. With zero
/// workers next() builds the item itself. No processes, no shared memory files.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtgm/core/error.h"

namespace gtgm::data {

template <class T>
class Prefetcher {
 public:
  /// build(i) makes item i (called concurrently from workers; must be thread-safe);
  /// worker_init(w) runs once at the start of worker w's thread.
  Prefetcher(std::function<T(int64_t)> build, int num_workers, int capacity, std::function<void(int)> worker_init = {},
             std::string name = "loader")
      : build_(std::move(build)),
        init_(std::move(worker_init)),
        workers_n_(num_workers),
        capacity_(std::max(capacity, 1)),
        name_(std::move(name)) {
    start(0);
  }
  ~Prefetcher() { stop(); }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  /// The next item in order; rethrows a worker's failure as gtgm::Error naming the item.
  T next() {
    if (workers_n_ == 0) {
      const int64_t i = next_out_++;
      try {
        return build_(i);
      } catch (const std::exception& e) {
        GTGM_THROW("{}: building item {} failed: {}", name_, i, message_of(e));
      }
    }
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return ready_.count(next_out_) > 0; });
    auto node = ready_.extract(next_out_);
    ++next_out_;
    lock.unlock();
    space_cv_.notify_all();
    auto& slot = node.mapped();
    if (slot.error) {
      try {
        std::rethrow_exception(slot.error);
      } catch (const std::exception& e) {
        GTGM_THROW("{}: worker {} failed building item {}: {}", name_, slot.worker, node.key(), message_of(e));
      } catch (...) {
        GTGM_THROW("{}: worker {} failed building item {} (unknown exception)", name_, slot.worker, node.key());
      }
    }
    return std::move(*slot.value);
  }

  /// Index of the item next() returns next.
  int64_t position() const { return next_out_; }

  /// Drops everything prefetched and continues from item `position`.
  void reset(int64_t position) {
    stop();
    ready_.clear();
    start(position);
  }

  /// Largest number of items built or waiting at once so far (for tests of the bound).
  int64_t max_outstanding() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return max_outstanding_;
  }
  int capacity() const { return capacity_; }

 private:
  struct Slot {
    std::optional<T> value;
    std::exception_ptr error;
    int worker = 0;
  };

  static std::string message_of(const std::exception& e) {
    if (const auto* g = dynamic_cast<const gtgm::Error*>(&e)) return g->message();
    return e.what();
  }

  void start(int64_t position) {
    next_out_ = position;
    next_claim_ = position;
    stopping_ = false;
    for (int w = 0; w < workers_n_; ++w) threads_.emplace_back([this, w] { work(w); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    space_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  void work(int w) {
    std::exception_ptr init_error;
    if (init_) {
      try {
        init_(w);
      } catch (...) {
        init_error = std::current_exception();  // reported with every item this worker claims
      }
    }
    for (;;) {
      int64_t i;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_cv_.wait(lock, [&] { return stopping_ || next_claim_ < next_out_ + capacity_; });
        if (stopping_) return;
        i = next_claim_++;
        max_outstanding_ = std::max(max_outstanding_, next_claim_ - next_out_);
      }
      Slot slot;
      slot.worker = w;
      try {
        if (init_error) std::rethrow_exception(init_error);
        slot.value.emplace(build_(i));
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        ready_.emplace(i, std::move(slot));
      }
      ready_cv_.notify_all();
    }
  }

  std::function<T(int64_t)> build_;
  std::function<void(int)> init_;
  int workers_n_;
  int capacity_;
  std::string name_;
  mutable std::mutex mutex_;
  std::condition_variable ready_cv_, space_cv_;
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> threads_;
  int64_t next_out_ = 0;
  int64_t next_claim_ = 0;
  int64_t max_outstanding_ = 0;
  bool stopping_ = false;
};

}  // namespace gtgm::data
