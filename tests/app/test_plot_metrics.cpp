// scripts/plot_metrics.py: every validation metric is visible (own panel, own colour), so
// val/score no longer hides val/dice when the two are equal.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace gtgm {
namespace {

TEST(PlotMetrics, DrawsValDiceAndValScoreInTheirOwnPanelsAndColours) {
  if (test::run_command("/usr/bin/python3 -c 'import matplotlib'").exit_code != 0)
    GTEST_SKIP() << "no matplotlib for /usr/bin/python3";
  test::TempDir dir;
  std::string rows;
  for (int step = 1; step <= 20; ++step) {
    rows += fmt::format(R"({{"step": {}, "loss": {}, "lr": 0.01)", step, 1.0 / step);
    // Equal series: on one shared panel the later line covered the earlier one.
    if (step % 5 == 0) rows += fmt::format(R"(, "val/dice": {0}, "val/score": {0})", 0.02 * step);
    rows += "}\n";
  }
  test::write_file(dir / "metrics.jsonl", rows);
  const auto r = test::run_command(
      fmt::format("/usr/bin/python3 {}/scripts/plot_metrics.py {} 2>&1", GTGM_SOURCE_ROOT, dir.path().string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("panels: loss; learning rate; val/dice; val/score (equal to val/dice)"), std::string::npos)
      << r.output;
  // Pixels of the two validation colours (red #d62728 for val/dice, green #2ca02c for val/score).
  const auto count = test::run_command(fmt::format(
      "/usr/bin/python3 -c \"import matplotlib.image as m, numpy as n; a = (m.imread('{}')[..., :3] * 255); "
      "f = lambda c: int((abs(a - n.array(c)).max(-1) < 12).sum()); print(f((214, 39, 40)), f((44, 160, 44)))\"",
      (dir / "metrics.png").string()));
  ASSERT_EQ(count.exit_code, 0) << count.output;
  int red = 0, green = 0;
  ASSERT_EQ(std::sscanf(count.output.c_str(), "%d %d", &red, &green), 2) << count.output;
  EXPECT_GT(red, 100) << "val/dice line not drawn";
  EXPECT_GT(green, 100) << "val/score line not drawn";
}

TEST(PlotMetrics, RefusesAFolderWithoutMetrics) {
  test::TempDir dir;
  const auto r = test::run_command(
      fmt::format("/usr/bin/python3 {}/scripts/plot_metrics.py {} 2>&1", GTGM_SOURCE_ROOT, dir.path().string()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("metrics.jsonl does not exist (is " + dir.path().string() + " a gtgm run directory?)"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace gtgm
