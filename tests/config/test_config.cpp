#include <gtest/gtest.h>

#include <sstream>

#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "test_util.h"

namespace gtgm {
using config::Config;

namespace {
std::string config_error(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  try {
    config::load_config_string(yaml, "cfg.yaml", sets);
  } catch (const ConfigError& e) {
    return e.message();
  }
  return "<no error>";
}
}  // namespace

TEST(Config, DefaultsFollowThePaper) {
  const Config c = config::default_config();
  EXPECT_EQ(c.optim.lr, 2e-5);
  EXPECT_EQ(c.optim.weight_decay, 0.05);
  EXPECT_EQ(c.loss.temperature, 0.07);
  EXPECT_EQ(c.loss.vr_weight, 0.01);
  EXPECT_EQ(c.loss.barlow_lambda, 0.0051);
  EXPECT_EQ(c.model.encoder.embed_dim, 2048);
  EXPECT_EQ(c.model.proj_dim, 512);
  EXPECT_EQ(c.text.max_length, 128);
  EXPECT_EQ(c.data.split_seed, 42);
}

TEST(Config, RoundTripThroughResolvedFileIsEqual) {
  test::TempDir dir;
  Config c = config::load_config_string(
      "run: {seed: 7, dir: 'runs/x y', name: 'null'}\n"
      "optim: {lr: 0.000123456789012345, betas: [0.8, 0.95]}\n"
      "data: {crop_size: [18, 160, 160], root: '', modality: MRI}\n"
      "eval: {metrics: [dice, hd95, 'yes']}\n"
      "text: {model_dir: '1e-3', captioner: {model: '1e-3'}}\n");
  config::write_resolved(c, dir.path());
  const Config back = config::load_config(dir / "config.resolved.yaml");
  EXPECT_TRUE(config::diff(c, back).empty()) << fmt::format("{}", fmt::join(config::diff(c, back), "\n"));
  EXPECT_EQ(back.optim.lr, 0.000123456789012345);
  EXPECT_EQ(back.run.name, "null");
  EXPECT_EQ(back.text.captioner.model, "1e-3");  // a string that reads like a number stays a string
  // A path key: resolved against the working directory (load_config_string's base) and made absolute.
  EXPECT_EQ(back.text.model_dir, (std::filesystem::current_path() / "1e-3").string());
  EXPECT_EQ(back.run.dir, (std::filesystem::current_path() / "runs/x y").string());
  EXPECT_EQ(back.eval.metrics, (std::vector<std::string>{"dice", "hd95", "yes"}));
  EXPECT_EQ(config::to_yaml(back), config::to_yaml(c));
}

TEST(Config, UnknownKeyNamesPathLineAndClosestKey) {
  EXPECT_EQ(config_error("optim:\n  lr: 1e-4\n  weight_decy: 0.1\n"),
            "cfg.yaml:3: unknown key 'optim.weight_decy' (did you mean 'optim.weight_decay'?)");
  EXPECT_EQ(config_error("optim:\n  batch_size: 4\n"),
            "cfg.yaml:2: unknown key 'optim.batch_size' (did you mean 'data.batch_size'?)");
  EXPECT_EQ(config_error("modle:\n  type: resnet3d\n"), "cfg.yaml:1: unknown key 'modle' (did you mean 'model'?)");
}

TEST(Config, WrongTypeNamesExpectedAndFound) {
  EXPECT_EQ(config_error("optim:\n  lr: fast\n"), "cfg.yaml:2: optim.lr: expected a number, found 'fast'");
  EXPECT_EQ(config_error("train:\n  steps: 2.5\n"), "cfg.yaml:2: train.steps: expected an integer, found '2.5'");
  EXPECT_EQ(config_error("data:\n  crop_size: 96\n"),
            "cfg.yaml:2: data.crop_size: expected a list of integers like [1, 2, 3], found '96'");
  EXPECT_EQ(config_error("data:\n  crop_size: [96, 96]\n"),
            "cfg.yaml:2: data.crop_size: expected exactly 3 element(s), found 2 element(s) [96, 96]");
  EXPECT_EQ(config_error("data: 3\n"), "cfg.yaml:1: data: expected a section (a mapping of keys), found '3'");
  EXPECT_EQ(config_error("run:\n  deterministic: maybe\n"),
            "cfg.yaml:2: run.deterministic: expected true/false, found 'maybe'");
}

TEST(Config, BadEnumAndRangeListValidValues) {
  EXPECT_EQ(config_error("model:\n  type: resnet\n"),
            "cfg.yaml:2: model.type: 'resnet' is not valid; expected one of: resnet3d, resunet, unet, vit3d, swin3d");
  EXPECT_EQ(config_error("optim:\n  lr: -1\n"), "cfg.yaml:2: optim.lr: -1 is out of range; expected > 0");
  EXPECT_EQ(config_error("data:\n  label_fraction: 1.5\n"),
            "cfg.yaml:2: data.label_fraction: 1.5 is out of range; expected in (0, 1]");
}

TEST(Config, SeveralErrorsAreReportedTogether) {
  const std::string msg = config_error("optim:\n  lr: -1\n  lrr: 2\nmodel:\n  norm: layer\n");
  EXPECT_NE(msg.find("3 config errors:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cfg.yaml:2: optim.lr: -1 is out of range"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cfg.yaml:3: unknown key 'optim.lrr' (did you mean 'optim.lr'?)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cfg.yaml:5: model.norm: 'layer' is not valid"), std::string::npos) << msg;
}

TEST(Config, SetOverridesWithSameValidation) {
  const Config c = config::load_config_string("optim: {lr: 1e-3}\n", "cfg.yaml",
                                              {"optim.lr=5e-4", "data.crop_size=[8, 32, 32]", "text.model_dir="});
  EXPECT_EQ(c.optim.lr, 5e-4);
  EXPECT_EQ(c.data.crop_size, (std::vector<int>{8, 32, 32}));
  EXPECT_EQ(c.text.model_dir, "");
  EXPECT_EQ(config_error("", {"optim.lrr=1"}), "--set optim.lrr=1: unknown key 'optim.lrr' (did you mean 'optim.lr'?)");
  EXPECT_EQ(config_error("", {"optim.lr=abc"}), "--set optim.lr=abc: optim.lr: expected a number, found 'abc'");
  EXPECT_EQ(config_error("", {"optimlr"}), "--set optimlr: expected section.key=value (e.g. --set optim.lr=1e-4)");
  EXPECT_EQ(config_error("", {"optim..lr=1"}), "--set optim..lr=1: empty component in key path 'optim..lr'");
  EXPECT_EQ(config_error("", {"run.precision=fp8"}),
            "--set run.precision=fp8: run.precision: 'fp8' is not valid; expected one of: auto, fp32, bf16, fp16");
}

TEST(Config, NonFiniteFloatsAreRefusedForEveryField) {
  // #16: optim.lr=inf passed validation (nan was already out of range).
  EXPECT_EQ(config_error("", {"optim.lr=inf"}), "--set optim.lr=inf: optim.lr: must be finite, got inf");
  EXPECT_EQ(config_error("", {"optim.lr=nan"}), "--set optim.lr=nan: optim.lr: must be finite, got nan");
  EXPECT_EQ(config_error("", {"optim.lr=-inf"}), "--set optim.lr=-inf: optim.lr: must be finite, got -inf");
  // An overflowing literal reads as inf and is named as such, not as "not a number".
  EXPECT_EQ(config_error("", {"optim.lr=1e999"}), "--set optim.lr=1e999: optim.lr: must be finite, got inf");
  EXPECT_EQ(config_error("optim:\n  weight_decay: .inf\n"),
            "cfg.yaml:2: optim.weight_decay: expected a number, found '.inf'");
  EXPECT_EQ(config_error("optim:\n  weight_decay: Infinity\n"),
            "cfg.yaml:2: optim.weight_decay: must be finite, got inf");
  // Every float field (and list of floats), with or without a range check, goes through the same
  // reader: take the keys from the generated docs table so a new field is covered automatically.
  std::istringstream docs(config::config_docs_markdown());
  std::string line;
  int checked = 0;
  while (std::getline(docs, line)) {
    const bool scalar = line.find("| float |") != std::string::npos;
    const bool list = line.find("| list[float] |") != std::string::npos;
    if (!scalar && !list) continue;
    const auto a = line.find('`'), b = line.find('`', a + 1);
    ASSERT_NE(b, std::string::npos) << line;
    const std::string key = line.substr(a + 1, b - a - 1);
    std::string set = key + "=inf", msg = config_error("", {set});
    // A list: the shortest length its check accepts (1 to 3 elements).
    for (std::string elems = "inf"; list && elems.size() < 20; elems += ", inf") {
      set = key + "=[" + elems + "]";
      msg = config_error("", {set});
      if (msg.find("element(s)") == std::string::npos && msg.find("elements") == std::string::npos) break;
    }
    EXPECT_NE(msg.find(key + ": must be finite, got inf"), std::string::npos) << set << ": " << msg;
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

TEST(Config, InheritMergesKeyByKey) {
  test::TempDir dir;
  test::write_file(dir / "base.yaml",
                   "optim:\n  lr: 1e-5\n  weight_decay: 1e-5\ndata:\n  modality: MRI\n  crop_size: [32, 64, 64]\n");
  test::write_file(dir / "sub/child.yaml", "inherit: ../base.yaml\noptim:\n  lr: 3e-4\ndata:\n  crop_size: [16, 32, 32]\n");
  const Config c = config::load_config(dir / "sub/child.yaml", {"data.modality=CT"});
  EXPECT_EQ(c.optim.lr, 3e-4);             // child wins
  EXPECT_EQ(c.optim.weight_decay, 1e-5);   // parent kept key by key
  EXPECT_EQ(c.data.crop_size, (std::vector<int>{16, 32, 32}));  // lists replace
  EXPECT_EQ(c.data.modality, config::Modality::CT);             // --set wins over both
}

TEST(Config, InheritErrorsPointAtTheRightFile) {
  test::TempDir dir;
  test::write_file(dir / "base.yaml", "optim:\n  lr: 1e-5\n  momentun: 0.9\n");
  test::write_file(dir / "child.yaml", "inherit: base.yaml\n");
  try {
    config::load_config(dir / "child.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.message(), (dir / "base.yaml").string() + ":3: unknown key 'optim.momentun' (did you mean 'optim.momentum'?)");
  }
  test::write_file(dir / "a.yaml", "inherit: b.yaml\n");
  test::write_file(dir / "b.yaml", "inherit: a.yaml\n");
  EXPECT_THROW_MSG(config::load_config(dir / "a.yaml"), "inherit cycle");
  test::write_file(dir / "m.yaml", "inherit: [a.yaml, b.yaml]\n");
  EXPECT_THROW_MSG(config::load_config(dir / "m.yaml"), "gtgm supports a single parent");
  test::write_file(dir / "x.yaml", "inherit: missing.yaml\n");
  EXPECT_THROW_MSG(config::load_config(dir / "x.yaml"), "missing.yaml does not exist");
}

TEST(Config, InvalidYamlAndMissingFile) {
  EXPECT_EQ(config_error("optim: {lr: 1\n"), "cfg.yaml:2: invalid YAML: end of map flow not found");
  EXPECT_THROW_MSG(config::load_config("/nonexistent/x.yaml"), "config file /nonexistent/x.yaml does not exist");
  EXPECT_EQ(config_error("- a\n- b\n"), "cfg.yaml:1: a config file must be a mapping of sections (run:, data:, ...)");
}

TEST(Config, CrossFieldValidation) {
  EXPECT_EQ(config_error("optim: {warmup_steps: 100}\ntrain: {steps: 50}\n"),
            "optim.warmup_steps (100) must be smaller than train.steps (50)");
}

TEST(Config, DiffNamesMismatchingKeys) {
  const Config a = config::default_config();
  const Config b = config::default_config({"optim.lr=1e-4", "model.depth=18"});
  EXPECT_EQ(config::diff(a, b), (std::vector<std::string>{"model.depth: 50 -> 18", "optim.lr: 2e-05 -> 0.0001"}));
}

TEST(Config, TableListsEveryKey) {
  const std::string table = config::format_table(config::default_config());
  EXPECT_NE(table.find("optim.lr"), std::string::npos);
  EXPECT_NE(table.find("2e-05"), std::string::npos);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), static_cast<long>(config::flatten(Config{}).size()));
}

TEST(Config, DocsFileIsInSyncWithStructs) {
  const std::string path = std::string(GTGM_SOURCE_ROOT) + "/docs/configs.md";
  EXPECT_EQ(core::read_text_file(path), config::config_docs_markdown())
      << "docs/configs.md drifted: regenerate with `build/gtgm info --config-docs > docs/configs.md`";
}

}  // namespace gtgm
