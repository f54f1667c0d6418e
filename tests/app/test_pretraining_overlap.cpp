// `gtgm eval` must not compare a CREMI row fine-tuned from a pretraining run that saw the row's
// held-out slices: app::check_pretraining_overlap reads the init's saved config.
#include <gtest/gtest.h>

#include "gtgm/app/pretraining_overlap.h"
#include "gtgm/config/load.h"
#include "gtgm/core/atomic_file.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace gtgm;

namespace {

// A pretraining "run dir" holding only the config it was made with.
fs::path pretrain_run(const fs::path& dir, const std::vector<std::string>& sets) {
  fs::create_directories(dir);
  config::write_resolved(config::default_config(sets), dir);
  return dir;
}

bool overlap_says(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(PretrainingOverlap, ACremiRowIsCheckedAgainstWhatItsPretrainingRunSampled) {
  const test::TempDir t;
  const std::string cremi_a = (t.path() / "data/cremi/A").string();
  const std::string cremi_b = (t.path() / "data/cremi/B").string();
  const config::Config row = config::default_config(
      {"data.format=cremi", "data.root=" + cremi_a, "finetune.task=affinity", "finetune.em_train_z=0.6"});
  using K = app::PretrainingOverlap::Kind;
  struct Case {
    std::string name;
    std::vector<std::string> sets;  // of the pretraining run
    K expected;
  };
  test::write_file(t.path() / "mix/a_whole.yaml", "data:\n  format: cremi\n  root: " + cremi_a +
                                                       "\n  em_pretrain_z: 1.0\n");
  const std::vector<Case> cases = {
      {"default", {"data.format=cremi", "data.root=" + cremi_a}, K::None},
      {"whole", {"data.format=cremi", "data.root=" + cremi_a, "data.em_pretrain_z=1"}, K::Overlap},
      {"up to the boundary", {"data.format=cremi", "data.root=" + cremi_a, "data.em_pretrain_z=0.6"}, K::None},
      {"past it", {"data.format=cremi", "data.root=" + cremi_a, "data.em_pretrain_z=0.61"}, K::Overlap},
      {"other volume", {"data.format=cremi", "data.root=" + cremi_b, "data.em_pretrain_z=1"}, K::None},
      {"same folder spelt differently",
       {"data.format=cremi", "data.root=" + cremi_a + "/../A/", "data.em_pretrain_z=1"}, K::Overlap},
      {"through a mix dataset",
       {"data.format=cremi", "data.root=" + cremi_b, "train.mix_datasets=[" + (t.path() / "mix/a_whole.yaml").string() + "]"},
       K::Overlap},
  };
  for (const auto& c : cases) {
    const fs::path run = pretrain_run(t.path() / "runs" / c.name, c.sets);
    const auto r = app::check_pretraining_overlap(row, run.string());
    EXPECT_EQ(r.kind, c.expected) << c.name << ": " << r.message;
    if (c.expected == K::Overlap) {
      EXPECT_TRUE(overlap_says(r.message, "sampled " + cremi_a + " up to 100% of each volume's depth") ||
                  overlap_says(r.message, "up to 61%"))
          << r.message;
      EXPECT_TRUE(overlap_says(r.message, "scores the slices from 60% on (finetune.em_train_z 0.6)")) << r.message;
    }
  }
  // A run saved before data.em_pretrain_z existed sampled whole volumes.
  fs::create_directories(t.path() / "runs/old");
  std::string old = config::to_yaml(config::default_config({"data.format=cremi", "data.root=" + cremi_a}));
  const auto at = old.find("  em_pretrain_z:");
  ASSERT_NE(at, std::string::npos);
  old.erase(at, old.find('\n', at) + 1 - at);
  core::atomic_write_text(t.path() / "runs/old/config.resolved.yaml", old);
  EXPECT_EQ(app::check_pretraining_overlap(row, (t.path() / "runs/old").string()).kind, K::Overlap);

  // Random initialisation saw nothing; a bare weights file cannot tell; MSD rows are not CREMI.
  EXPECT_EQ(app::check_pretraining_overlap(row, "").kind, K::None);
  test::write_file(t.path() / "w/encoder.safetensors", "x");
  const auto unknown = app::check_pretraining_overlap(row, (t.path() / "w/encoder.safetensors").string());
  EXPECT_EQ(unknown.kind, K::Unknown);
  EXPECT_TRUE(overlap_says(unknown.message, "records no pretraining config")) << unknown.message;
  const config::Config msd = config::default_config({"data.root=" + cremi_a});
  EXPECT_EQ(app::check_pretraining_overlap(msd, (t.path() / "runs/whole").string()).kind, K::None);
}
