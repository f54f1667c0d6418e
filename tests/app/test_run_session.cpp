// app::RunSession, the start of every run: the run dir's lock refuses a second run on the same dir
// (and is released when the first ends), a fresh run in a dir with checkpoints is refused, and a
// refused run leaves log.txt and config.resolved.yaml as they were.
#include <gtest/gtest.h>

#include "gtgm/app/run_session.h"
#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "test_util.h"

namespace gtgm {
namespace {

namespace fs = std::filesystem;

config::Config session_config(const fs::path& dir, int seed) {
  return config::default_config({"run.dir=" + dir.string(), "run.device=cpu", "run.log_level=warn", "run.threads=1",
                                 "run.seed=" + std::to_string(seed)});
}

TEST(RunSession, ASecondRunOnTheSameDirIsRefusedNamingTheHolder) {
  test::TempDir tmp;
  const fs::path run = tmp / "run";
  {
    const app::RunSession first(session_config(run, 1), "pretrain", /*resuming=*/false);
    const std::string resolved = core::read_text_file(run / "config.resolved.yaml");
    const std::string log = core::read_text_file(run / "log.txt");
    EXPECT_NE(resolved.find("seed: 1"), std::string::npos) << resolved;
    EXPECT_THROW_MSG(app::RunSession(session_config(run, 2), "pretrain", /*resuming=*/true),
                     run.string() + " is in use by another gtgm run (gtgm pretrain, pid " + std::to_string(::getpid()));
    EXPECT_EQ(core::read_text_file(run / "config.resolved.yaml"), resolved);
    EXPECT_EQ(core::read_text_file(run / "log.txt"), log);
  }
  // The first run ended: the dir is free again.
  const app::RunSession again(session_config(run, 3), "finetune", /*resuming=*/true);
  EXPECT_NE(core::read_text_file(run / "config.resolved.yaml").find("seed: 3"), std::string::npos);
}

TEST(RunSession, AFreshRunInADirWithCheckpointsIsRefusedBeforeWritingAnything) {
  test::TempDir tmp;
  const fs::path run = tmp / "run";
  fs::create_directories(run / "checkpoints" / "step_10");
  test::write_file(run / "config.resolved.yaml", "kept\n");
  EXPECT_THROW_MSG(app::RunSession(session_config(run, 1), "pretrain", /*resuming=*/false),
                   "already holds checkpoints of a run; pass --resume " + run.string());
  EXPECT_EQ(core::read_text_file(run / "config.resolved.yaml"), "kept\n");
  EXPECT_FALSE(fs::exists(run / "log.txt"));
  // The refused session released its lock.
  const app::RunSession resumed(session_config(run, 1), "pretrain", /*resuming=*/true);
}

}  // namespace
}  // namespace gtgm
