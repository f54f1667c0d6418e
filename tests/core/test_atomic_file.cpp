#include <gtest/gtest.h>

#include <fstream>

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

}  // namespace gtgm
