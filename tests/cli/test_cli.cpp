// End-to-end: the real gtgm binary's exit codes and one-line errors.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "test_util.h"

namespace gtgm {

TEST(Cli, InfoPrintsVersions) {
  const auto r = test::run_gtgm("info");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* row : {"gtgm", "git", "LibTorch", "CUDA", "cuDNN", "NCCL", "ITK", "threads", "CPU bf16"}) {
    EXPECT_NE(r.output.find(row), std::string::npos) << row << " missing in:\n" << r.output;
  }
}

// The commands users have: each must answer --help, and `gtgm --help` must list exactly these (a
// dropped or an undocumented new command fails here).
TEST(Cli, EveryCommandHasHelp) {
  const std::set<std::string> commands = {"pretrain",   "finetune", "eval",    "score",      "caption",
                                          "embed-text", "synth",    "plan",    "preprocess", "export",
                                          "bench",      "info",     "predict", "probe"};
  for (const auto& cmd : commands) {
    const auto r = test::run_gtgm(cmd + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << cmd << ": " << r.output;
  }
  const auto top = test::run_gtgm("--help");
  ASSERT_EQ(top.exit_code, 0) << top.output;
  auto at = top.output.find("Subcommands:");  // CLI11 2.x; 1.x writes SUBCOMMANDS:
  if (at == std::string::npos) at = top.output.find("SUBCOMMANDS:");
  ASSERT_NE(at, std::string::npos) << top.output;
  std::set<std::string> listed;
  std::istringstream lines(top.output.substr(at));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first;
    if (line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ' && (words >> first)) listed.insert(first);
  }
  EXPECT_EQ(listed, commands) << top.output;
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(test::run_gtgm("").exit_code, 2);
  EXPECT_EQ(test::run_gtgm("no-such-command").exit_code, 2);
}

TEST(Cli, ConfigErrorIsOneLineAndExitTwo) {
  test::TempDir dir;
  test::write_file(dir / "bad.yaml", "optim:\n  lrr: 1\n");
  const auto r = test::run_gtgm("info --print-config --config " + (dir / "bad.yaml").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "gtgm: config error: " + (dir / "bad.yaml").string() +
                          ":2: unknown key 'optim.lrr' (did you mean 'optim.lr'?)\n");
  const auto s = test::run_gtgm("info --print-config --set optim.lr=-3");
  EXPECT_EQ(s.exit_code, 2) << s.output;
  EXPECT_NE(s.output.find("--set optim.lr=-3: optim.lr: -3 is out of range; expected > 0"), std::string::npos)
      << s.output;
}

TEST(Cli, PrintConfigAppliesOverrides) {
  const auto r = test::run_gtgm("info --print-config --set optim.lr=0.001 --set model.depth=18");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("lr: 0.001"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("depth: 18"), std::string::npos) << r.output;
}

}  // namespace gtgm
