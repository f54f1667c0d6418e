// End-to-end `gtgm eval` and `gtgm synth --suite demo13` through the real binary: dry runs list
// missing data, bad suite files exit 2 with file:line, the demo13 stand-ins are written.
#include <gtest/gtest.h>

#include "test_util.h"

namespace gtgm {

TEST(EvalCli, DryRunListsRunsAndMissingData) {
  test::TempDir dir;
  test::write_file(dir / "ft.yaml", "run:\n  device: cpu\n");
  test::write_file(dir / "data/Task09_Spleen/dataset.json", "{}");
  test::write_file(dir / "suite.yaml", "name: t\noutput_dir: " + (dir / "out").string() +
                                           "\ndata_root: " + (dir / "data").string() +
                                           "\ndata_root_env: \"\"\ninits: {random: \"\"}\ndatasets:\n"
                                           "  - {name: Task09_Spleen, config: ft.yaml, data: Task09_Spleen}\n"
                                           "  - {name: Task06_Lung, config: ft.yaml, data: Task06_Lung}\n");
  const auto r = test::run_gtgm("eval --config " + (dir / "suite.yaml").string() + " --dry-run");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Task09_Spleen"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("would run"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("data missing: " + (dir / "data/Task06_Lung").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 run(s) to do, 1 with data missing, 2 in all"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));

  test::write_file(
      dir / "bad.yaml",
      "name: t\ninits: {random: \"\"}\ndatasets:\n  - {name: a, config: ft.yaml, data: a, metrik: dice}\n");
  const auto bad = test::run_gtgm("eval --config " + (dir / "bad.yaml").string() + " --dry-run");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("bad.yaml:4: unknown key 'datasets[0].metrik' (did you mean 'datasets[0].metric'?)"),
            std::string::npos)
      << bad.output;
  const auto only = test::run_gtgm("eval --config " + (dir / "suite.yaml").string() + " --dry-run --only Liver");
  EXPECT_EQ(only.exit_code, 2) << only.output;
  EXPECT_NE(only.output.find("--only: no dataset 'Liver' in the suite (datasets: Task09_Spleen, Task06_Lung)"),
            std::string::npos)
      << only.output;
}

TEST(EvalCli, SynthDemo13WritesTheNamedStandIns) {
  test::TempDir dir;
  const auto r = test::run_gtgm("synth --suite demo13 --out " + dir.path().string() +
                                " --only Task04_Hippocampus,CREMI_C --cases 2 --test-cases 0 --shape 8,24,24 "
                                "--em-shape 4,24,24 --em-cells 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "Task04_Hippocampus/labelsTr/hippocampus_001.nii.gz"));
  EXPECT_TRUE(std::filesystem::exists(dir / "cremi/C/sample_C.hdf"));
  EXPECT_FALSE(std::filesystem::exists(dir / "Task01_BrainTumour"));
  const auto bad = test::run_gtgm("synth --suite demo13 --out " + dir.path().string() + " --kind ct");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

}  // namespace gtgm
