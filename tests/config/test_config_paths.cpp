// Paths in configs: relative to the file that writes them (as `inherit:` is), --set and defaults
// relative to the working directory, all made absolute; the shipped configs copied elsewhere resolve
// inside the copy, and the demo pretraining config runs from the copy.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gtgm/config/load.h"
#include "gtgm/config/suite_config.h"
#include "gtgm/core/error.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace gtgm {
namespace {

// Changes the working directory for one scope.
class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedCwd() { fs::current_path(old_); }

 private:
  fs::path old_;
};

std::string norm(const fs::path& p) { return p.lexically_normal().string(); }

// The value of a path key after loading (the keys config/load.cpp resolves).
std::string path_value(const config::Config& c, const std::string& key) {
  const std::vector<std::pair<std::string, const std::string*>> keys = {
      {"run.dir", &c.run.dir},
      {"data.root", &c.data.root},
      {"data.cache_dir", &c.data.cache_dir},
      {"train.init", &c.train.init},
      {"text.model_dir", &c.text.model_dir},
      {"text.vocab", &c.text.vocab},
      {"text.caption_cache", &c.text.caption_cache},
      {"text.embedding_cache", &c.text.embedding_cache}};
  for (const auto& [k, v] : keys)
    if (k == key) return *v;
  ADD_FAILURE() << "unknown path key " << key;
  return "";
}

const std::vector<std::string> kPathKeys = {"run.dir",        "data.root",          "data.cache_dir",
                                            "train.init",     "text.model_dir",     "text.vocab",
                                            "text.caption_cache", "text.embedding_cache"};

TEST(ConfigPaths, TheLoadersPathKeysAreTheOnesThisFileTests) {
  std::vector<std::string> expected = kPathKeys;
  expected.push_back("train.mix_datasets");  // the list key (InheritedValuesResolveAgainstTheParentsFolder...)
  EXPECT_EQ(config::path_keys(), expected);
}

std::string yaml_for(const std::string& key, const std::string& value) {
  const auto dot = key.find('.');
  return key.substr(0, dot) + ":\n  " + key.substr(dot + 1) + ": \"" + value + "\"\n";
}

TEST(ConfigPaths, EveryPathKeyResolvesAgainstTheFileThatWritesIt) {
  test::TempDir t;
  const fs::path cfg_dir = t / "configs/sub";
  ScopedCwd cwd(t.path());  // the working directory must play no part
  fs::create_directories(t / "elsewhere");
  fs::current_path(t / "elsewhere");
  struct Case {
    std::string value;
    fs::path expected;
  };
  const std::vector<Case> cases = {{"rel/x", cfg_dir / "rel/x"},
                                   {"../up/y", t / "configs/up/y"},
                                   {"./z.jsonl", cfg_dir / "z.jsonl"},
                                   {"/abs/olute/p", "/abs/olute/p"}};
  for (const auto& key : kPathKeys) {
    for (const auto& c : cases) {
      test::write_file(cfg_dir / "c.yaml", yaml_for(key, c.value));
      const auto cfg = config::load_config(cfg_dir / "c.yaml");
      EXPECT_EQ(path_value(cfg, key), norm(c.expected)) << key << ": " << c.value;
    }
  }
  // An empty path keeps its meaning ("derive it" / "none").
  test::write_file(cfg_dir / "c.yaml", "data:\n  cache_dir: \"\"\ntext:\n  vocab: \"\"\n");
  const auto cfg = config::load_config(cfg_dir / "c.yaml");
  EXPECT_EQ(cfg.data.cache_dir, "");
  EXPECT_EQ(cfg.text.vocab, "");
}

TEST(ConfigPaths, InheritedValuesResolveAgainstTheParentsFolderAndListsElementWise) {
  test::TempDir t;
  test::write_file(t / "base/parent.yaml",
                   "data:\n  root: data/task\ntrain:\n  mix_datasets: [more/a.yaml, /x/b.yaml]\n");
  test::write_file(t / "exp/child.yaml", "inherit: ../base/parent.yaml\nrun:\n  dir: runs/one\n");
  ScopedCwd cwd(t.path());
  const auto cfg = config::load_config(t / "exp/child.yaml");
  EXPECT_EQ(cfg.data.root, norm(t / "base/data/task"));
  EXPECT_EQ(cfg.run.dir, norm(t / "exp/runs/one"));
  EXPECT_EQ(cfg.train.mix_datasets, (std::vector<std::string>{norm(t / "base/more/a.yaml"), "/x/b.yaml"}));
  // The child overriding the parent's key: the child's folder.
  test::write_file(t / "exp/child2.yaml", "inherit: ../base/parent.yaml\ndata:\n  root: mine\n");
  EXPECT_EQ(config::load_config(t / "exp/child2.yaml").data.root, norm(t / "exp/mine"));
}

TEST(ConfigPaths, SetValuesAndDefaultsResolveAgainstTheWorkingDirectory) {
  test::TempDir t;
  test::write_file(t / "cfgs/c.yaml", "data:\n  root: from_file\n");
  fs::create_directories(t / "work");
  ScopedCwd cwd(t / "work");
  const auto cfg = config::load_config(t / "cfgs/c.yaml", {"text.caption_cache=caps/c.jsonl",
                                                          "train.mix_datasets=[m.yaml]", "data.cache_dir=/abs"});
  EXPECT_EQ(cfg.text.caption_cache, norm(t / "work/caps/c.jsonl"));
  EXPECT_EQ(cfg.train.mix_datasets, std::vector<std::string>{norm(t / "work/m.yaml")});
  EXPECT_EQ(cfg.data.cache_dir, "/abs");
  EXPECT_EQ(cfg.data.root, norm(t / "cfgs/from_file"));
  EXPECT_EQ(cfg.run.dir, norm(t / "work/runs/gtgm"));  // the default
  // --set of a key the file also sets: the working directory.
  EXPECT_EQ(config::load_config(t / "cfgs/c.yaml", {"data.root=here"}).data.root, norm(t / "work/here"));
}

TEST(ConfigPaths, TheResolvedFileMeansTheSamePathsWhereverItIsReadFrom) {
  test::TempDir t;
  test::write_file(t / "cfgs/c.yaml", "run:\n  dir: ../runs/a\ndata:\n  root: d\n");
  config::Config cfg;
  {
    ScopedCwd cwd(t.path());
    cfg = config::load_config(t / "cfgs/c.yaml");
    config::write_resolved(cfg, t / "runs/a");
  }
  fs::create_directories(t / "far/away");
  ScopedCwd cwd(t / "far/away");
  const auto back = config::load_config(t / "runs/a/config.resolved.yaml");
  EXPECT_TRUE(config::diff(cfg, back).empty());
  EXPECT_EQ(back.run.dir, norm(t / "runs/a"));
  EXPECT_EQ(back.data.root, norm(t / "cfgs/d"));
}

TEST(ConfigPaths, SuitePathsResolveAgainstTheSuiteFile) {
  test::TempDir t;
  test::write_file(t / "suites/rows/row.yaml", "run:\n  name: row\n");
  test::write_file(t / "suites/s.yaml",
                   "name: s\noutput_dir: out/eval\ndata_root: ../data\ndata_root_env: \"\"\n"
                   "inits: {gtgm: ../runs/pre, random: \"\"}\n"
                   "datasets:\n  - {name: A, config: rows/row.yaml, data: A, metric: dice}\n");
  fs::create_directories(t / "work");
  ScopedCwd cwd(t / "work");
  const auto s = config::load_suite_config(t / "suites/s.yaml");
  EXPECT_EQ(s.output_dir, norm(t / "suites/out/eval"));
  EXPECT_EQ(s.data_root, norm(t / "data"));
  ASSERT_EQ(s.inits.size(), 2u);
  EXPECT_EQ(s.inits[0].path, norm(t / "runs/pre"));
  EXPECT_EQ(s.inits[1].path, "");
  // --data-root and --set: the working directory.
  EXPECT_EQ(config::load_suite_config(t / "suites/s.yaml", {}, "mine").data_root, norm(t / "work/mine"));
  EXPECT_EQ(config::load_suite_config(t / "suites/s.yaml", {"output_dir=o"}).output_dir, norm(t / "work/o"));
}

// Every YAML file under `root`, relative to it.
std::vector<fs::path> yaml_files(const fs::path& root) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().extension() == ".yaml") out.push_back(fs::relative(e.path(), root));
  std::sort(out.begin(), out.end());
  return out;
}

bool is_suite(const fs::path& rel) { return *rel.begin() == "eval"; }

TEST(ConfigPaths, EveryShippedConfigCopiedElsewhereResolvesInsideTheCopy) {
  const fs::path repo = fs::path(GTGM_SOURCE_ROOT);
  test::TempDir t;
  const fs::path copy = t / "copy";
  fs::create_directories(copy);
  fs::copy(repo / "configs", copy / "configs", fs::copy_options::recursive);
  fs::create_directories(t / "cwd");
  ScopedCwd cwd(t / "cwd");
  const auto files = yaml_files(copy / "configs");
  ASSERT_GE(files.size(), 30u);
  const std::string inside = norm(copy) + "/";
  auto check = [&](const std::string& what, const std::string& value) {
    if (value.empty()) return;
    EXPECT_EQ(value.rfind(inside, 0), 0u) << what << " = " << value << " resolves outside the copied tree " << inside;
  };
  for (const auto& rel : files) {
    SCOPED_TRACE(rel.string());
    if (is_suite(rel)) {
      const auto s = config::load_suite_config(copy / "configs" / rel);
      check("output_dir", s.output_dir);
      if (!s.data_root_env.empty() && std::getenv(s.data_root_env.c_str())) continue;
      check("data_root", s.data_root);
      for (const auto& i : s.inits) check("inits." + i.name, i.path);
      for (const auto& d : s.datasets) check("datasets." + d.name + ".config", d.config.string());
      continue;
    }
    const auto cfg = config::load_config(copy / "configs" / rel);
    // A key the file (and its parents) leaves at its default resolves against the working directory
    // (run.dir of the base and per-dataset files, which are not run on their own).
    const auto defaults = config::default_config();
    for (const auto& key : kPathKeys)
      if (path_value(cfg, key) != path_value(defaults, key)) check(key, path_value(cfg, key));
    for (const auto& m : cfg.train.mix_datasets) {
      check("train.mix_datasets", m);
      EXPECT_TRUE(fs::exists(m)) << m;
    }
  }
}

TEST(ConfigPaths, TheDemoPretrainingConfigRunsFromACopyInAnotherFolder) {
  // The demo's paths point at ../../demo_run and ../../assets from configs/demo/: copy configs/ and
  // assets/ side by side into a fresh folder and run preprocess, caption and 2 pretraining steps from
  // a third folder; every output must land in the copy.
  const fs::path repo = fs::path(GTGM_SOURCE_ROOT);
  test::TempDir t;
  const fs::path copy = t / "proj";
  fs::create_directories(copy);
  fs::copy(repo / "configs", copy / "configs", fs::copy_options::recursive);
  fs::copy(repo / "assets", copy / "assets", fs::copy_options::recursive);
  fs::create_directories(t / "cwd");
  auto gtgm = [&](const std::string& args) {
    return test::run_command("cd '" + (t / "cwd").string() + "' && '" + std::string(GTGM_BINARY) + "' " + args);
  };
  const auto synth = gtgm("synth --out '" + (copy / "demo_run/data").string() +
                          "' --kind ct --cases 3 --test-cases 0 --shape 16 32 32 --seed 3");
  ASSERT_EQ(synth.exit_code, 0) << synth.output;
  const std::string cfg = "--config '" + (copy / "configs/demo/pretrain.yaml").string() + "' --log-level warn";
  const std::string images = "--images '" + (copy / "demo_run/data/Task01_SynthCT/imagesTr").string() + "'";
  for (const std::string cmd : {"preprocess " + cfg, "caption " + cfg + " " + images}) {
    const auto r = gtgm(cmd);
    ASSERT_EQ(r.exit_code, 0) << cmd << ":\n" << r.output;
  }
  const auto r = gtgm("pretrain " + cfg + " --set train.steps=2 --set train.log_every=1 --set optim.warmup_steps=0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(copy / "demo_run/captions.jsonl"));
  EXPECT_TRUE(fs::exists(copy / "demo_run/pretrain/config.resolved.yaml"));
  EXPECT_FALSE(fs::exists(t / "cwd/demo_run")) << "an output landed in the working directory";
  EXPECT_TRUE(fs::is_empty(t / "cwd"));
}

}  // namespace
}  // namespace gtgm
