// Multi-process Gloo tests on CPU: this binary is started as 2 ranks (tests/dist/spawn.h) that
// run a scenario of tests/dist/dist_worker.cpp and compare themselves to a single-process
// reference on the global batch.
#include <iostream>
#include <regex>

#include "dist/spawn.h"
#include "test_util.h"

namespace gtgm::test {
namespace {

using namespace std::chrono_literals;

// The ranks talk through Gloo on CPU: a build without it (a CUDA wheel's LibTorch) skips.
#ifdef GTGM_HAVE_GLOO
#define GTGM_REQUIRE_GLOO() \
  do {                      \
  } while (0)
#else
#define GTGM_REQUIRE_GLOO() GTEST_SKIP() << "built without c10d Gloo"
#endif

// Runs a scenario on `world` ranks and expects every rank to pass.
void run_ok(const std::string& scenario, int world = 2, const std::map<std::string, std::string>& env = {},
            LaunchStyle style = LaunchStyle::Torchrun) {
  TempDir dir;
  auto ranks = start_ranks(world, scenario, dir.path(), env, {}, style);
  wait_ranks(ranks, 300s);
  const std::string logs = describe(ranks);
  kill_ranks(ranks);
  for (const auto& p : ranks) {
    EXPECT_EQ(p.exit_code, 0) << scenario << ": rank " << p.rank << " failed\n" << logs;
  }
}

TEST(DistMultiProcess, CollectivesOnTwoGlooRanks) {
  GTGM_REQUIRE_GLOO();
  run_ok("collectives");
}

TEST(DistMultiProcess, SlurmEnvironmentRendezvous) {
  GTGM_REQUIRE_GLOO();
  run_ok("collectives", 2, {}, LaunchStyle::Slurm);
}

TEST(DistMultiProcess, LossesOnTwoRanksEqualOneProcessOnGlobalBatch) {
  GTGM_REQUIRE_GLOO();
  run_ok("loss_parity");
}

TEST(DistMultiProcess, TrainingOnTwoRanksEqualsOneProcess) {
  GTGM_REQUIRE_GLOO();
  // bucketed + overlapped (default), and the two comparison modes
  for (const char* mode : {"bucketed", "after_backward", "per_parameter"}) {
    SCOPED_TRACE(mode);
    run_ok("train", 2, {{"GTGM_REDUCE_MODE", mode}});
  }
}

// 2 ranks x batch 2 == 1 process x batch 4: BatchNorm1d(affine=False) and BatchNorm3d layers
// (outputs, gradients, running stats), a ResNet encoder + heads under the reducer, eval mode
// without communication, and the error for one value per channel (tests/dist/sync_bn_worker.cpp).
TEST(DistMultiProcess, SyncBatchNormOnTwoRanksEqualsOneProcess) {
  GTGM_REQUIRE_GLOO();
  run_ok("sync_bn");
}

TEST(DistMultiProcess, GradientAccumulationWithNoSync) {
  GTGM_REQUIRE_GLOO();
  run_ok("train", 2, {{"GTGM_ACCUMULATION", "2"}});
}

TEST(DistMultiProcess, MismatchedFrozenParametersAreNamed) {
  GTGM_REQUIRE_GLOO();
  run_ok("mismatch");
}

struct FailureCase {
  std::string how;
  int victim;
  std::string expected;  // in the survivor's message
};

// The survivor must exit non-zero, within the timeout, with a message naming the victim.
void run_failure(const FailureCase& c) {
  SCOPED_TRACE(c.how + " rank " + std::to_string(c.victim));
  const int timeout_s = 5;
  TempDir dir;
  auto ranks = start_ranks(2, "fail_" + c.how, dir.path(),
                           {{"GTGM_VICTIM", std::to_string(c.victim)}, {"GTGM_TIMEOUT_S", std::to_string(timeout_s)}});
  const int survivor = 1 - c.victim;
  // Generous wall bound (process start on a loaded machine); the detection time itself is
  // measured by the survivor and checked against the timeout below.
  for (int i = 0; i < 600 && !ranks[survivor].finished; ++i) {
    std::vector<RankProcess> one{ranks[survivor]};
    wait_ranks(one, 100ms);
    ranks[survivor] = one[0];
  }
  const std::string logs = describe(ranks);
  kill_ranks(ranks);
  ASSERT_TRUE(ranks[survivor].finished) << "the survivor hung\n" << logs;
  EXPECT_EQ(ranks[survivor].exit_code, 1) << logs;
  const std::string log = read_log(ranks[survivor]);
  EXPECT_NE(log.find(c.expected), std::string::npos) << "expected \"" << c.expected << "\"\n" << logs;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("FAILURE DETECTED after ([0-9.e+-]+) s"))) << logs;
  EXPECT_LE(std::stod(m[1]), timeout_s) << "detected later than dist.timeout_s\n" << logs;
  std::cout << c.how << " rank " << c.victim << ": detected after " << m[1] << " s (dist.timeout_s " << timeout_s
            << ")\n";
}

TEST(DistMultiProcess, KilledRankIsNamedWithinTimeout) {
  GTGM_REQUIRE_GLOO();
  run_failure({"kill", 1, "rank 1 stopped responding"});
}

TEST(DistMultiProcess, FrozenRankIsNamedWithinTimeout) {
  GTGM_REQUIRE_GLOO();
  run_failure({"stop", 1, "rank 1 stopped responding"});
}

TEST(DistMultiProcess, RankStuckOutsideCollectivesIsNamed) {
  GTGM_REQUIRE_GLOO();
  run_failure({"stuck", 1, "rank 1 is alive but has not reached this collective"});
}

TEST(DistMultiProcess, RankFailingWithAnErrorIsNamed) {
  GTGM_REQUIRE_GLOO();
  run_failure({"error", 1, "rank 1 stopped with an error"});
}

TEST(DistMultiProcess, KilledStoreHostRankZeroIsNamed) {
  GTGM_REQUIRE_GLOO();
  run_failure({"kill", 0, "hosted by rank 0"});
}

TEST(DistMultiProcess, MissingRankFailsRendezvousWithinTimeout) {
  GTGM_REQUIRE_GLOO();
  TempDir dir;
  // Only rank 0 of a world of 2 starts.
  auto ranks = start_ranks(1, "rendezvous_alone", dir.path(), {{"WORLD_SIZE", "2"}, {"GTGM_TIMEOUT_S", "2"}});
  wait_ranks(ranks, 60s);
  const std::string logs = describe(ranks);
  kill_ranks(ranks);
  EXPECT_EQ(ranks[0].exit_code, 1) << logs;
  const std::string log = read_log(ranks[0]);
  EXPECT_NE(log.find("rendezvous failed"), std::string::npos) << logs;
  EXPECT_NE(log.find("rank(s) 1 never joined"), std::string::npos) << logs;
  EXPECT_NE(log.find("MASTER_ADDR:MASTER_PORT=127.0.0.1:"), std::string::npos) << logs;
}

}  // namespace
}  // namespace gtgm::test
