#pragma once
// Helpers shared by tests: temp dirs, running the gtgm binary, asserting error messages.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "gtgm/core/error.h"
#include "gtgm/core/process.h"

namespace gtgm::test {

/// assets/bert_tiny: the tiny BERT (weights in every format, vocabulary, golden outputs) that
/// the text and pretraining tests share.
inline std::filesystem::path bert_tiny_dir() {
  return std::filesystem::path(GTGM_SOURCE_ROOT) / "assets" / "bert_tiny";
}

/// The unpacked Debian sample data (scripts/fetch_test_data.sh): $GTGM_DEPS_DIR, else .deps/ of
/// the checkout. Tests that use it skip with a message when a file is absent.
inline std::filesystem::path deps_dir() {
  if (const char* d = std::getenv("GTGM_DEPS_DIR"); d != nullptr && std::filesystem::exists(d)) return d;
  return std::filesystem::path(GTGM_SOURCE_ROOT) / ".deps";
}

/// A file or folder of python3-pydicom's test data (real public DICOM files and series).
inline std::filesystem::path pydicom_file(const std::string& name) {
  return deps_dir() / "python3-pydicom/usr/lib/python3/dist-packages/pydicom/data/test_files" / name;
}

/// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Writes `text` to `path` (creating parents).
void write_file(const std::filesystem::path& path, const std::string& text);

using core::CommandResult;
/// Runs a shell command line (quoted by the caller) and captures its output.
CommandResult run_command(const std::string& command_line);
/// Runs the built gtgm binary with `args` (shell-quoted by the caller) and captures its output.
CommandResult run_gtgm(const std::string& args);

/// Whether a CUDA device is visible (for *_CUDA tests).
/// The tensors of a golden dict that a reference script torch.save'd into tests/data/models/NAME.
std::map<std::string, torch::Tensor> load_model_golden(const std::string& name);

bool cuda_available();

}  // namespace gtgm::test

/// Asserts that `stmt` throws a gtgm::Error whose message contains `substr`.
#define EXPECT_THROW_MSG(stmt, substr)                                           \
  do {                                                                           \
    try {                                                                        \
      stmt;                                                                      \
      ADD_FAILURE() << "expected gtgm::Error containing \"" << (substr) << "\""; \
    } catch (const ::gtgm::Error& e__) {                                         \
      EXPECT_NE(std::string(e__.what()).find(substr), std::string::npos)         \
          << "message: " << e__.what() << "\nexpected to contain: " << (substr); \
    }                                                                            \
  } while (0)

/// Skips a *_CUDA test cleanly on machines without a GPU.
#define GTGM_REQUIRE_CUDA()                                                \
  do {                                                                     \
    if (!::gtgm::test::cuda_available()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)
