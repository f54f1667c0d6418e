#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>

#include "gtgm/core/atomic_file.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;

namespace {
size_t count_entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}
}  // namespace

TEST(AtomicWrite, WritesNewFile) {
  test::TempDir dir;
  core::atomic_write_text(dir / "a/b.txt", "hello");
  EXPECT_EQ(core::read_text_file(dir / "a/b.txt"), "hello");
  EXPECT_EQ(count_entries(dir / "a"), 1u);
}

TEST(AtomicWrite, ThrowingWriterLeavesOldFileIntactAndNoTemp) {
  test::TempDir dir;
  const auto path = dir / "ckpt.bin";
  core::atomic_write_text(path, "old contents");
  EXPECT_THROW(core::atomic_write(path,
                                  [](std::ostream& out) {
                                    out << "half of the new cont";
                                    out.flush();
                                    throw std::runtime_error("writer died midway");
                                  }),
               std::runtime_error);
  EXPECT_EQ(core::read_text_file(path), "old contents");
  EXPECT_EQ(count_entries(dir.path()), 1u) << "temp file left behind";
}

TEST(AtomicWrite, ReplacesExistingFile) {
  test::TempDir dir;
  const auto path = dir / "x.txt";
  core::atomic_write_text(path, "one");
  core::atomic_write_text(path, "two");
  EXPECT_EQ(core::read_text_file(path), "two");
}

TEST(AtomicWriteDir, ThrowingWriterKeepsOldDirectory) {
  test::TempDir dir;
  const auto ckpt = dir / "step_100";
  core::atomic_write_dir(ckpt, [](const fs::path& tmp) { test::write_file(tmp / "weights", "v1"); });
  EXPECT_THROW(core::atomic_write_dir(ckpt,
                                      [](const fs::path& tmp) {
                                        test::write_file(tmp / "weights", "v2-partial");
                                        throw std::runtime_error("killed");
                                      }),
               std::runtime_error);
  EXPECT_EQ(core::read_text_file(ckpt / "weights"), "v1");
  EXPECT_EQ(count_entries(dir.path()), 1u);
  core::atomic_write_dir(ckpt, [](const fs::path& tmp) { test::write_file(tmp / "weights", "v2"); });
  EXPECT_EQ(core::read_text_file(ckpt / "weights"), "v2");
  EXPECT_EQ(count_entries(dir.path()), 1u);
}

TEST(ReadTextFile, MissingFileNamesPath) {
  EXPECT_THROW_MSG(core::read_text_file("/nonexistent/gtgm/file.yaml"), "/nonexistent/gtgm/file.yaml");
}

TEST(AtomicWrite, StaleTempFilesOfDeadProcessesAreRemoved) {
  // #16: temp files (.best.json.tmp.*, .x.gvol.tmp.*) were left behind after kills.
  test::TempDir dir;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  ::waitpid(child, &status, 0);  // reaped: no process has this pid now
  const std::string dead = std::to_string(child), alive = std::to_string(::getpid());
  test::write_file(dir / (".best.json.tmp." + dead + ".0"), "partial");
  test::write_file(dir / (".case_1.gvol.tmp." + dead + ".3"), "partial");
  test::write_file(dir / (".step_000000004.tmpdir." + dead + ".1/model.safetensors"), "partial");
  test::write_file(dir / (".metrics.jsonl.tmp." + alive + ".0"), "being written");  // this process
  test::write_file(dir / "best.json", "{}");
  test::write_file(dir / ("notes.tmp." + dead + ".0"), "not ours: no leading dot");
  EXPECT_EQ(core::remove_stale_temp_files(dir.path()), 3);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left,
            (std::vector<std::string>{".metrics.jsonl.tmp." + alive + ".0", "best.json", "notes.tmp." + dead + ".0"}));
  EXPECT_EQ(core::remove_stale_temp_files(dir / "missing"), 0);
}

TEST(AtomicWrite, OutputPathsThatAreTheWrongKindGetClearErrors) {
  // #16: raw "filesystem error" for `score -o DIR`, `export --out FILE` and symlink loops.
  test::TempDir dir;
  std::filesystem::create_directories(dir / "adir");
  test::write_file(dir / "afile", "x");
  EXPECT_THROW_MSG(core::atomic_write_text(dir / "adir", "x"),
                   (dir / "adir").string() + " is a folder; expected a file path");
  EXPECT_THROW_MSG(core::create_dirs(dir / "afile" / "sub", "export --out"),
                   "export --out: " + (dir / "afile" / "sub").string() +
                       " cannot be created: " + (dir / "afile").string() + " is a file; expected a folder");
  std::filesystem::create_symlink(dir / "loop", dir / "loop");
  EXPECT_THROW_MSG(core::create_dirs(dir / "loop" / "x", "run.dir"), "is a symlink loop");
  EXPECT_THROW_MSG(core::atomic_write_text(dir / "loop", "x"), "is a symlink loop");
}

TEST(AtomicWriteDir, AKillBetweenTheTwoRenamesKeepsThePreviousVersion) {
  // atomic_write_dir moves the previous DIR to ".DIR.old.PID.N", then the new one in. A kill
  // between the two renames (the kill tests' fault point dir.mid_swap) left neither DIR nor a way
  // back: the clean-up deleted both temp folders. Now the old one is put back.
  test::TempDir dir;
  const std::string dead = std::to_string(std::numeric_limits<pid_t>::max());  // no such process
  test::write_file(dir / (".step_000000004.old." + dead + ".1/model.safetensors"), "previous");
  test::write_file(dir / (".step_000000004.tmpdir." + dead + ".0/model.safetensors"), "new, complete");
  // Both present (a kill before the first rename was undone): the temp folders just go.
  test::write_file(dir / "step_000000006/model.safetensors", "current");
  test::write_file(dir / (".step_000000006.old." + dead + ".3/model.safetensors"), "older");
  test::write_file(dir / (".gtgm-tmp-" + dead + "-case_1.nii.gz"), "half a prediction");  // io::write_volume's
  EXPECT_EQ(core::remove_stale_temp_files(dir.path()), 4);
  EXPECT_EQ(core::read_text_file(dir / "step_000000004/model.safetensors"), "previous");
  EXPECT_EQ(core::read_text_file(dir / "step_000000006/model.safetensors"), "current");
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"step_000000004", "step_000000006"}));
}

}  // namespace gtgm
