#include "test_util.h"

#include <torch/torch.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <random>

namespace gtgm::test {

TempDir::TempDir() {
  std::random_device rd;
  path_ =
      std::filesystem::temp_directory_path() / ("gtgm_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

CommandResult run_gtgm(const std::string& args) { return run_command(std::string(GTGM_BINARY) + " " + args); }

CommandResult run_command(const std::string& command_line) { return core::run_command(command_line); }

bool cuda_available() { return torch::cuda::is_available(); }

std::map<std::string, torch::Tensor> load_model_golden(const std::string& name) {
  const std::string path = std::string(GTGM_TEST_DATA_DIR) + "/models/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto dict = torch::pickle_load(bytes).toGenericDict();
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : dict) out[kv.key().toStringRef()] = kv.value().toTensor();
  return out;
}

}  // namespace gtgm::test
