// The `gtgm eval` suite file: strict binding with file:line errors, paths resolved against the
// suite file, paper numbers aligned with label fractions, data-root precedence.
#include <gtest/gtest.h>

#include <cstdlib>

#include "gtgm/config/suite_config.h"
#include "test_util.h"

namespace fs = std::filesystem;
using gtgm::config::load_suite_config;

namespace {

struct SuiteFiles {
  gtgm::test::TempDir dir;
  fs::path suite;
  explicit SuiteFiles(const std::string& text) {
    gtgm::test::write_file(dir / "finetune/liver.yaml", "run:\n  name: liver\n");
    gtgm::test::write_file(dir / "finetune/cremi.yaml", "run:\n  name: cremi\n");
    suite = dir / "eval/suite.yaml";
    gtgm::test::write_file(suite, text);
  }
};

const char* kGood = R"(name: t13
output_dir: out/t13
data_root: /data/files
data_root_env: GTGM_TEST_SUITE_ROOT
label_fractions: [0.01, 0.1, 1.0]
overlay_cases: 2
set: [run.threads=1]
inits:
  gtgm: runs/pretrain
  random: ""
datasets:
  - name: Task03_Liver
    config: ../finetune/liver.yaml
    data: msd/Task03_Liver
    metric: dice
    paper:
      gtgm: [52.46, 58.67, 65.61]
      random: [45.21, null, 61.34]
  - name: CREMI_A
    config: ../finetune/cremi.yaml
    data: cremi/A
    metric: voi
    label_fractions: [0.1, 0.75]
    set: [finetune.task=affinity]
    paper: {gtgm: [0.882, 0.709]}
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(SuiteConfig, ReadsEveryKey) {
  unsetenv("GTGM_TEST_SUITE_ROOT");
  SuiteFiles f(kGood);
  const auto s = load_suite_config(f.suite);
  EXPECT_EQ(s.name, "t13");
  EXPECT_EQ(s.output_dir, (f.suite.parent_path() / "out/t13").lexically_normal().string());  // the file's folder
  EXPECT_EQ(s.data_root, "/data/files");
  EXPECT_EQ(s.data_root_source, f.suite.lexically_normal().string() + ":3");
  EXPECT_EQ(s.label_fractions, (std::vector<double>{0.01, 0.1, 1.0}));
  EXPECT_EQ(s.overlay_cases, 2);
  EXPECT_EQ(s.sets, (std::vector<std::string>{"run.threads=1"}));
  ASSERT_EQ(s.inits.size(), 2u);
  EXPECT_EQ(s.inits[0].name, "gtgm");
  EXPECT_EQ(s.inits[0].path, (f.suite.parent_path() / "runs/pretrain").lexically_normal().string());
  EXPECT_EQ(s.inits[1].path, "");
  ASSERT_EQ(s.datasets.size(), 2u);
  const auto& liver = s.datasets[0];
  EXPECT_EQ(liver.config, (f.dir.path() / "finetune/liver.yaml").lexically_normal());
  EXPECT_EQ(liver.label_fractions, s.label_fractions);
  EXPECT_EQ(s.paper_value(liver, "gtgm", 2), 65.61);
  EXPECT_EQ(s.paper_value(liver, "random", 0), 45.21);
  EXPECT_FALSE(s.paper_value(liver, "random", 1).has_value());
  const auto& cremi = s.datasets[1];
  EXPECT_EQ(cremi.metric, "voi");
  EXPECT_EQ(cremi.label_fractions, (std::vector<double>{0.1, 0.75}));
  EXPECT_EQ(cremi.sets, (std::vector<std::string>{"finetune.task=affinity"}));
  EXPECT_EQ(s.paper_value(cremi, "gtgm", 1), 0.709);
  EXPECT_FALSE(s.paper_value(cremi, "random", 0).has_value());
  EXPECT_TRUE(gtgm::config::metric_lower_is_better("voi"));
  EXPECT_FALSE(gtgm::config::metric_lower_is_better("dice"));
}

TEST(SuiteConfig, DataRootPrecedence) {
  SuiteFiles f(kGood);
  setenv("GTGM_TEST_SUITE_ROOT", "/env/root", 1);
  EXPECT_EQ(load_suite_config(f.suite).data_root, "/env/root");
  EXPECT_EQ(load_suite_config(f.suite).data_root_source, "$GTGM_TEST_SUITE_ROOT");
  EXPECT_EQ(load_suite_config(f.suite, {"data_root=/set/root"}).data_root, "/set/root");
  EXPECT_EQ(load_suite_config(f.suite, {"data_root=/set/root"}, "/cli/root").data_root, "/cli/root");
  // data_root_env: "" ignores the environment.
  EXPECT_EQ(load_suite_config(f.suite, {"data_root_env="}).data_root, "/data/files");
  unsetenv("GTGM_TEST_SUITE_ROOT");
  EXPECT_EQ(load_suite_config(f.suite).data_root, "/data/files");
  // --set reaches mappings.
  EXPECT_EQ(load_suite_config(f.suite, {"inits.gtgm=runs/other"}).inits[0].path,
            (std::filesystem::current_path() / "runs/other").string());  // --set: the working directory
}

TEST(SuiteConfig, UnknownKeysNameFileLineAndPath) {
  SuiteFiles f(replaced(kGood, "metric: voi", "metrc: voi"));
  const std::string file = f.suite.lexically_normal().string();
  EXPECT_THROW_MSG(load_suite_config(f.suite),
                   file + ":22: unknown key 'datasets[1].metrc' (did you mean 'datasets[1].metric'?)");
  SuiteFiles g(std::string(kGood) + "overlays: 3\n");
  EXPECT_THROW_MSG(load_suite_config(g.suite), g.suite.lexically_normal().string() + ":26: unknown key 'overlays'");
  EXPECT_THROW_MSG(load_suite_config(f.suite, {"inits=3"}), "inits: expected a mapping");
}

TEST(SuiteConfig, BadValuesAreReportedTogether) {
  std::string text = kGood;
  text = replaced(text, "gtgm: [52.46, 58.67, 65.61]", "gtgm: [52.46, 58.67]");
  text = replaced(text, "metric: dice", "metric: jaccard");
  text = replaced(text, "../finetune/cremi.yaml", "../finetune/crem.yaml");
  text = replaced(text, "paper: {gtgm", "paper: {byol");
  SuiteFiles f(text);
  try {
    load_suite_config(f.suite);
    FAIL() << "expected a ConfigError";
  } catch (const gtgm::ConfigError& e) {
    const std::string m = e.message();
    EXPECT_NE(m.find("4 suite config errors"), std::string::npos) << m;
    EXPECT_NE(
        m.find(":17: datasets[0].paper.gtgm: expected 3 value(s), one per label fraction [0.01, 0.1, 1], found 2"),
        std::string::npos)
        << m;
    EXPECT_NE(m.find(":15: datasets[0].metric: 'jaccard' is not valid; expected one of: dice, hd95, nsd, voi, arand"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("datasets[1].config: fine-tuning config"), std::string::npos) << m;
    EXPECT_NE(m.find("crem.yaml does not exist"), std::string::npos) << m;
    EXPECT_NE(m.find("datasets[1].paper.byol: no init named 'byol' (inits: gtgm, random)"), std::string::npos) << m;
  }
  SuiteFiles g(replaced(kGood, "[0.01, 0.1, 1.0]", "[0.01, 0, 1.0]"));
  EXPECT_THROW_MSG(load_suite_config(g.suite), ":5: label_fractions: 0 is not a label fraction");
  SuiteFiles h("name: x\ninits: {a: \"\"}\ndatasets: []\n");
  EXPECT_THROW_MSG(load_suite_config(h.suite), ":3: datasets: expected a list of datasets");
  EXPECT_THROW_MSG(load_suite_config(f.dir / "nope.yaml"), "nope.yaml does not exist");
}

TEST(SuiteConfig, SeedsAreAListOfDistinctNonNegativeIntegers) {
  SuiteFiles plain(kGood);
  EXPECT_TRUE(load_suite_config(plain.suite).seeds.empty());  // default: the fine-tuning config's run.seed
  SuiteFiles f(replaced(kGood, "overlay_cases: 2", "overlay_cases: 2\nseeds: [3, 1, 2]"));
  EXPECT_EQ(load_suite_config(f.suite).seeds, (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(load_suite_config(f.suite, {"seeds=[7]"}).seeds, (std::vector<int64_t>{7}));
  const struct {
    const char* value;
    const char* error;
  } bad[] = {
      {"[1, 1]", ":7: seeds: 1 is listed twice"},
      {"[1, -2]", ":7: seeds: element 1: expected an integer >= 0, found '-2'"},
      {"[1.5]", ":7: seeds: element 0: expected an integer >= 0, found '1.5'"},
      {"[]", ":7: seeds: expected a non-empty list of seeds (integers >= 0) like [1, 2, 3]"},
      {"3", ":7: seeds: expected a non-empty list of seeds"},
  };
  for (const auto& b : bad) {
    SuiteFiles g(replaced(kGood, "overlay_cases: 2", std::string("overlay_cases: 2\nseeds: ") + b.value));
    EXPECT_THROW_MSG(load_suite_config(g.suite), b.error);
  }
}

}  // namespace
