// Two `gtgm preprocess` runs on one cache (#16): the second is refused naming the first's command,
// PID and host while the first holds the cache's lock, and takes the lock over once the first is
// killed (the kernel released it; the holder line it left is reported). Two real processes: the
// first is held at a fault point (GTGM_FAULT_STOP) so that it is certain to be mid-run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/dir_lock.h"
#include "gtgm/data/synth.h"
#include "gtgm/dist/local_launch.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;

TEST(PreprocessLock, SecondRunIsRefusedNamingTheHolderAndAKilledHoldersLockIsTakenOver) {
  test::TempDir dir;
  data::PhantomOptions p;
  p.num_train = 2;
  p.num_test = 0;
  p.shape = {4, 16, 16};
  data::write_phantom_task(dir / "task", p);
  const std::string args = "preprocess --set data.root=" + (dir / "task").string() +
                           " --set data.cache_dir=" + (dir / "cache").string() + " --set run.log_level=info";
  // The first run stops itself before renaming its first file into place (plan.json), holding the lock.
  auto env = dist::current_environment();
  env["GTGM_FAULT_STOP"] = "write.before_rename@1";
  const pid_t first = dist::spawn_process({GTGM_BINARY, "preprocess", "--set", "data.root=" + (dir / "task").string(),
                                           "--set", "data.cache_dir=" + (dir / "cache").string()},
                                          env, dir / "first.log", /*merge_stderr=*/true);
  int status = 0;
  ASSERT_EQ(::waitpid(first, &status, WUNTRACED), first);
  ASSERT_TRUE(WIFSTOPPED(status)) << core::read_text_file(dir / "first.log");

  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  const auto refused = test::run_gtgm(args);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find(fmt::format("{} is in use by another gtgm preprocess (gtgm preprocess, pid {} on {}, since ",
                                            (dir / "cache").string(), first, host)),
            std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("data.cache_dir"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(dir / "cache" / "plan.json"));  // the refused run wrote nothing

  ::kill(first, SIGKILL);
  ASSERT_EQ(::waitpid(first, &status, 0), first);
  ASSERT_TRUE(WIFSIGNALED(status));
  const auto taken = test::run_gtgm(args);
  ASSERT_EQ(taken.exit_code, 0) << taken.output;
  EXPECT_NE(taken.output.find(fmt::format("took over the lock of gtgm preprocess, pid {} on {}", first, host)),
            std::string::npos)
      << taken.output;
  EXPECT_NE(taken.output.find("removed 1 temp file(s) left by a killed earlier run"), std::string::npos)
      << taken.output;
  EXPECT_TRUE(fs::exists(dir / "cache" / "cache.json"));
  // A clean end leaves no holder line: the next run has nothing to take over.
  EXPECT_EQ(core::read_text_file(core::dir_lock_path(dir / "cache")), "");
  const auto again = test::run_gtgm(args);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("took over"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("0 cases written, 2 reused"), std::string::npos) << again.output;
}

TEST(DirLock, HeldInThisProcessRefusesASecondHolderAndReleasesOnDestruction) {
  test::TempDir dir;
  {
    const core::DirLock a(dir.path(), "pretrain", "run", "stop it first");
    EXPECT_THROW_MSG(core::DirLock(dir.path(), "finetune", "run", "stop it first"),
                     dir.path().string() + " is in use by another gtgm run (gtgm pretrain, pid " +
                         std::to_string(::getpid()));
    EXPECT_EQ(a.previous_holder(), "");
  }
  EXPECT_EQ(core::read_text_file(core::dir_lock_path(dir.path())), "");
  // A holder line left by a process that died holding the lock is reported by the next holder.
  test::write_file(core::dir_lock_path(dir.path()), "gtgm preprocess, pid 4194303 on elsewhere, since then\n");
  const core::DirLock b(dir.path(), "preprocess", "preprocess", "wait");
  EXPECT_EQ(b.previous_holder(), "gtgm preprocess, pid 4194303 on elsewhere, since then");
}

}  // namespace gtgm
