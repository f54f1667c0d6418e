// Launch-environment parsing (torchrun, Slurm), Slurm hostlists, and the single-process context
// (no rendezvous; every collective is the identity; the reducer does nothing).
#include <torch/torch.h>

#include <map>

#include "gtgm/dist/collectives.h"
#include "gtgm/dist/context.h"
#include "gtgm/dist/reducer.h"
#include "test_util.h"

namespace gtgm::dist {
namespace {

EnvGetter env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    const auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(DistEnv, NoVariablesMeansOneProcess) {
  const LaunchEnv e = read_launch_env(env_of({}));
  EXPECT_EQ(e.launcher, Launcher::None);
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(e.source, "single process");
}

TEST(DistEnv, Torchrun) {
  const LaunchEnv e = read_launch_env(env_of(
      {{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node07"}, {"MASTER_PORT", "29400"}}));
  EXPECT_EQ(e.launcher, Launcher::Torchrun);
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.master_addr, "node07");
  EXPECT_EQ(e.master_port, 29400);
  // torchrun inside a Slurm allocation: torchrun's variables win.
  const LaunchEnv both = read_launch_env(env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"},
                                                 {"MASTER_PORT", "1"}, {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}));
  EXPECT_EQ(both.launcher, Launcher::Torchrun);
  EXPECT_EQ(both.rank, 1);
  // World 1 from torchrun needs no master.
  EXPECT_EQ(read_launch_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}})).world_size, 1);
}

TEST(DistEnv, Slurm) {
  const LaunchEnv e = read_launch_env(env_of({{"SLURM_PROCID", "6"},
                                              {"SLURM_NTASKS", "99"},
                                              {"SLURM_STEP_NUM_TASKS", "8"},
                                              {"SLURM_LOCALID", "2"},
                                              {"SLURM_JOB_NODELIST", "gpu[003-004,010]"},
                                              {"SLURM_JOB_ID", "123456"}}));
  EXPECT_EQ(e.launcher, Launcher::Slurm);
  EXPECT_EQ(e.world_size, 8);  // the step's task count wins over the allocation's
  EXPECT_EQ(e.rank, 6);
  EXPECT_EQ(e.local_rank, 2);
  EXPECT_EQ(e.master_addr, "gpu003");
  EXPECT_EQ(e.master_port, 29500 + 456);
  const LaunchEnv m = read_launch_env(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "head"},
                                              {"MASTER_PORT", "1234"}, {"SLURM_NODELIST", "x[1-2]"}}));
  EXPECT_EQ(m.master_addr, "head");
  EXPECT_EQ(m.master_port, 1234);
}

TEST(DistEnv, BadValuesAreNamed) {
  EXPECT_THROW_MSG(read_launch_env(env_of({{"RANK", "0"}})), "RANK is set but WORLD_SIZE is not");
  EXPECT_THROW_MSG(read_launch_env(env_of({{"RANK", "x1"}, {"WORLD_SIZE", "2"}})),
                   "environment variable RANK='x1' is not an integer");
  EXPECT_THROW_MSG(read_launch_env(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}})), "rank 2 is not below the world size 2");
  EXPECT_THROW_MSG(read_launch_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "0"}})), "WORLD_SIZE=0 is out of range");
  EXPECT_THROW_MSG(read_launch_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}})),
                   "world size 2 needs MASTER_ADDR");
  EXPECT_THROW_MSG(read_launch_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}})),
                   "needs MASTER_PORT");
  EXPECT_THROW_MSG(
      read_launch_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})),
      "MASTER_PORT=70000 is out of range: expected 1 to 65535");
  EXPECT_THROW_MSG(read_launch_env(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}})),
                   "no MASTER_ADDR and no SLURM_STEP_NODELIST");
  EXPECT_THROW_MSG(read_launch_env(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_NODELIST", "n[1-"}})),
                   "environment variable SLURM_NODELIST: hostlist 'n[1-': unbalanced '['");
}

TEST(DistEnv, Hostlists) {
  using V = std::vector<std::string>;
  EXPECT_EQ(expand_hostlist("node01"), V{"node01"});
  EXPECT_EQ(expand_hostlist("node[01-04,07]"), (V{"node01", "node02", "node03", "node04", "node07"}));
  EXPECT_EQ(expand_hostlist("a[8-10],b,c[1]"), (V{"a8", "a9", "a10", "b", "c1"}));
  EXPECT_EQ(expand_hostlist("r[1-2]-n[1,3]"), (V{"r1-n1", "r1-n3", "r2-n1", "r2-n3"}));
  EXPECT_EQ(expand_hostlist("10.0.0.1,10.0.0.2"), (V{"10.0.0.1", "10.0.0.2"}));
  EXPECT_THROW_MSG(expand_hostlist("n[1-3"), "unbalanced '['");
  EXPECT_THROW_MSG(expand_hostlist("n1-3]"), "unbalanced ']'");
  EXPECT_THROW_MSG(expand_hostlist("n[5-3]"), "reversed range '5-3'");
  EXPECT_THROW_MSG(expand_hostlist("n[a-b]"), "bad range 'a-b'");
  EXPECT_THROW_MSG(expand_hostlist("n[]"), "empty or nested bracket group");
  EXPECT_THROW_MSG(expand_hostlist("a,,b"), "empty host name");
}

TEST(DistContext, SingleProcessNeedsNoRendezvous) {
  config::DistConfig cfg;
  cfg.timeout_s = 1;
  const Context ctx = init_from_env(cfg, torch::kCPU, env_of({}));
  EXPECT_EQ(ctx.world_size(), 1);
  EXPECT_EQ(ctx.rank(), 0);
  EXPECT_FALSE(ctx.distributed());
  EXPECT_EQ(ctx.group(), nullptr);
  EXPECT_EQ(ctx.backend(), "none");
  EXPECT_TRUE(is_rank0());
  EXPECT_EQ(world_size(), 1);
  EXPECT_EQ(global().world_size(), 1);

  // Collectives are the identity.
  torch::Tensor x = torch::arange(6, torch::kFloat32).view({3, 2});
  const torch::Tensor before = x.clone();
  all_reduce_sum_(x, ctx);
  all_reduce_sum_(x);
  all_reduce_(x, ctx, ReduceOp::Mean);
  broadcast_(x, ctx, 0);
  barrier(ctx);
  EXPECT_TRUE(torch::equal(x, before));
  torch::Tensor leaf = x.clone().requires_grad_(true);
  const torch::Tensor g = all_gather_with_grad(leaf);
  EXPECT_TRUE(torch::equal(g, x));
  (g * 3).sum().backward();
  EXPECT_TRUE(torch::equal(leaf.grad(), torch::full({3, 2}, 3.f)));
  EXPECT_TRUE(torch::equal(all_gather(x, ctx), x));
  EXPECT_TRUE(torch::equal(all_reduce_sum_with_grad(x, ctx), x));
  EXPECT_TRUE(any(true, ctx));
  EXPECT_FALSE(any(false, ctx));
  const std::map<std::string, double> meters{{"loss", 1.5}};
  EXPECT_EQ(reduce_meters(meters, ctx), meters);

  // The reducer is a no-op: gradients stay as computed, no_sync nests.
  torch::nn::Linear lin(3, 2);
  Reducer reducer(*lin, ctx);
  EXPECT_TRUE(reducer.bucket_bytes().empty());
  lin(torch::ones({4, 3})).sum().backward();
  const torch::Tensor grad = lin->weight.grad().clone();
  {
    auto guard = reducer.no_sync();
    EXPECT_FALSE(reducer.sync_enabled());
  }
  EXPECT_TRUE(reducer.sync_enabled());
  reducer.finish();
  EXPECT_TRUE(torch::equal(lin->weight.grad(), grad));
}

TEST(DistContext, BackendChoiceIsChecked) {
  config::DistConfig cfg;
  cfg.backend = config::DistBackend::NCCL;
  // world 2 on CPU with nccl: refused before any rendezvous.
  const auto env = env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "1"}});
  EXPECT_THROW_MSG(init_from_env(cfg, torch::kCPU, env), "dist.backend=nccl needs a CUDA device, but run.device resolved to cpu");
}

}  // namespace
}  // namespace gtgm::dist
