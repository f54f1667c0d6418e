#include <gtest/gtest.h>

#include <map>

#include "gtgm/core/host_allocator.h"

namespace gtgm::core {
namespace {

HostAllocatorTuning decide(const std::map<std::string, std::string>& vars) {
  return decide_host_allocator_tuning([&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

TEST(HostAllocator, TunesByDefaultAndSaysHowToTurnItOff) {
  for (const auto& vars : std::vector<std::map<std::string, std::string>>{
           {}, {{"GTGM_MALLOC", "tuned"}}, {{"GTGM_MALLOC", ""}}, {{"LD_PRELOAD", "/usr/lib/libfoo.so"}},
           {{"GLIBC_TUNABLES", "glibc.rtld.nns=2"}}}) {
    const auto t = decide(vars);
    EXPECT_TRUE(t.applied) << t.reason;
    EXPECT_EQ(t.mmap_threshold, 1L << 30);
    EXPECT_EQ(t.trim_threshold, 1L << 30);
    EXPECT_NE(t.reason.find("GTGM_MALLOC=system"), std::string::npos) << t.reason;
  }
}

TEST(HostAllocator, LeavesTheUsersChoiceAlone) {
  struct Case {
    std::map<std::string, std::string> vars;
    std::string named;  // what the reason must name
  };
  const std::vector<Case> cases = {
      {{{"GTGM_MALLOC", "system"}}, "GTGM_MALLOC=system"},
      {{{"GTGM_MALLOC", "jemalloc"}}, "not one of tuned, system"},
      {{{"MALLOC_MMAP_THRESHOLD_", "65536"}}, "MALLOC_MMAP_THRESHOLD_"},
      {{{"MALLOC_TRIM_THRESHOLD_", "0"}}, "MALLOC_TRIM_THRESHOLD_"},
      {{{"MALLOC_TOP_PAD_", "0"}}, "MALLOC_TOP_PAD_"},
      {{{"MALLOC_ARENA_MAX", "2"}}, "MALLOC_ARENA_MAX"},
      {{{"GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1000"}}, "GLIBC_TUNABLES"},
      {{{"LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}}, "jemalloc"},
      {{{"LD_PRELOAD", "libtcmalloc_minimal.so.4"}}, "tcmalloc"},
  };
  for (const auto& c : cases) {
    const auto t = decide(c.vars);
    EXPECT_FALSE(t.applied) << c.named;
    EXPECT_EQ(t.mmap_threshold, 0) << c.named;
    EXPECT_NE(t.reason.find(c.named), std::string::npos) << t.reason;
  }
}

TEST(HostAllocator, TheTestBinaryRunsWithTheSettingsGtgmUses) {
  // tests/test_main.cpp configures the allocator as the gtgm executable's main() does.
  const auto s = host_allocator_state();
  EXPECT_EQ(s.reason.find("not configured"), std::string::npos) << s.reason;
}

}  // namespace
}  // namespace gtgm::core
