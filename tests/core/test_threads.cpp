#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "gtgm/core/device.h"

namespace gtgm::core {
namespace {

// Sets (or unsets) an environment variable for one scope and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value)
      ::setenv(name_.c_str(), value, 1);
    else
      ::unsetenv(name_.c_str());
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(Threads, DefaultIsTheCoresThisProcessMayUseSharedAmongTheNodesRanks) {
  ScopedEnv omp("OMP_NUM_THREADS", nullptr);
  const int cores = available_cores();
  ASSERT_GE(cores, 1);
  {
    ScopedEnv lws("LOCAL_WORLD_SIZE", nullptr);
    EXPECT_EQ(default_num_threads(), cores);
  }
  struct Case {
    const char* local_world_size;
    int expected;
  };
  for (const Case& c : {Case{"1", cores}, Case{"2", std::max(1, cores / 2)}, Case{"1000", 1}, Case{"x", cores}}) {
    ScopedEnv lws("LOCAL_WORLD_SIZE", c.local_world_size);
    EXPECT_EQ(default_num_threads(), c.expected) << "LOCAL_WORLD_SIZE=" << c.local_world_size;
  }
}

TEST(Threads, OmpNumThreadsWinsAndAnExplicitCountWinsOverBoth) {
  const int before = torch::get_num_threads();
  {
    ScopedEnv omp("OMP_NUM_THREADS", "3");
    ScopedEnv lws("LOCAL_WORLD_SIZE", "2");
    EXPECT_EQ(default_num_threads(), 3);
    EXPECT_EQ(set_num_threads(0), 3);
    EXPECT_EQ(torch::get_num_threads(), 3);
    EXPECT_EQ(set_num_threads(2), 2);
    EXPECT_EQ(torch::get_num_threads(), 2);
  }
  {
    ScopedEnv omp("OMP_NUM_THREADS", "4,2");  // a nested list is not a count: the cores decide
    ScopedEnv lws("LOCAL_WORLD_SIZE", nullptr);
    EXPECT_EQ(default_num_threads(), available_cores());
  }
  set_num_threads(before);
}

}  // namespace
}  // namespace gtgm::core
