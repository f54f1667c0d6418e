// load_saved_config: a config gtgm wrote before a key existed keeps the behaviour it was run with.
#include <gtest/gtest.h>

#include <sstream>

#include "gtgm/config/load.h"
#include "gtgm/config/saved_config.h"
#include "test_util.h"

namespace gtgm::config {
namespace {

// to_yaml of `cfg` without the lines that start with `key:` (as an older gtgm wrote it).
std::string without_key(const Config& cfg, const std::string& key) {
  std::istringstream in(to_yaml(cfg));
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.find(key + ":") == std::string::npos) out += line + "\n";
  }
  return out;
}

TEST(SavedConfig, KeysAddedLaterGetTheEarlierBehaviour) {
  const Config now = default_config();
  ASSERT_EQ(now.model.resnet3d.stem_pool_stride, (std::vector<int>{1, 2, 2}));
  // Written today: read back as written.
  EXPECT_EQ(load_saved_config(to_yaml(now), "new.yaml"), now);
  // Written before model.stem_pool_stride existed: the max-pool strode 2 on every axis.
  const std::string old = without_key(now, "stem_pool_stride");
  ASSERT_EQ(old.find("stem_pool_stride"), std::string::npos);
  EXPECT_EQ(load_saved_config(old, "old.yaml").model.resnet3d.stem_pool_stride, (std::vector<int>{2, 2, 2}));
  EXPECT_EQ(load_config_string(old, "old.yaml").model.resnet3d.stem_pool_stride, (std::vector<int>{1, 2, 2}));
  // A 2D run, and --set still wins.
  const std::string old2d = without_key(
      default_config({"model.spatial_dims=2", "model.stem_kernel=[7, 7]", "model.stem_stride=[2, 2]",
                      "model.stem_pool_stride=[2, 2]", "data.crop_size=[1, 64, 64]"}),
      "stem_pool_stride");
  EXPECT_EQ(load_saved_config(old2d, "old2d.yaml").model.resnet3d.stem_pool_stride, (std::vector<int>{2, 2}));
  EXPECT_EQ(load_saved_config(old, "old.yaml", {"model.stem_pool_stride=[1, 2, 2]"}).model.resnet3d.stem_pool_stride,
            (std::vector<int>{1, 2, 2}));
  // Errors still name the file.
  EXPECT_THROW_MSG(load_saved_config("model: [1, 2\n", "broken.yaml"), "broken.yaml");
}

}  // namespace
}  // namespace gtgm::config
