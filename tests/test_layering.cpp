// scripts/check_layers.py (run by scripts/test.sh): the real tree follows the layering that
// CMakeLists.txt declares, and a planted upward or sideways include fails the check, named.
#include <gtest/gtest.h>

#include "test_util.h"

namespace gtgm {
namespace {

const std::string kCheck = std::string("python3 ") + GTGM_SOURCE_ROOT + "/scripts/check_layers.py";

void plant_tree(const test::TempDir& dir) {
  test::write_file(dir / "CMakeLists.txt",
                   "gtgm_add_area(core   DEPS torch_deps)\n"
                   "gtgm_add_area(io     DEPS gtgm_core zlib_deps)\n"
                   "gtgm_add_area(models DEPS gtgm_core)\n"
                   "gtgm_add_area(train  DEPS gtgm_io gtgm_models)\n");
  test::write_file(dir / "src/core/a.cpp", "#include \"gtgm/core/a.h\"\n");
  test::write_file(dir / "src/train/t.cpp", "#include \"gtgm/core/a.h\"\n#include \"gtgm/models/m.h\"\n");
  test::write_file(dir / "src/cli/main.cpp", "#include \"gtgm/train/t.h\"\n");
}

TEST(Layering, TheRepositoryFollowsItsDeclaredLayers) {
  const auto r = test::run_command(kCheck);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(Layering, PlantedUpwardAndSidewaysIncludesAreNamed) {
  test::TempDir dir;
  plant_tree(dir);
  const auto clean = test::run_command(kCheck + " --root " + dir.path().string());
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  // core reaching up to train (transitively above it), io reaching sideways to models.
  test::write_file(dir / "include/gtgm/core/a.h", "#pragma once\n#include \"gtgm/train/t.h\"\n");
  test::write_file(dir / "src/io/v.cpp", "// reads\n#include <vector>\n#include \"gtgm/models/m.h\"\n");
  const auto bad = test::run_command(kCheck + " --root " + dir.path().string());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("include/gtgm/core/a.h:2: upward include of gtgm/train/ from area 'core'"),
            std::string::npos)
      << bad.output;
  EXPECT_NE(bad.output.find("src/io/v.cpp:3: sideways include of gtgm/models/ from area 'io' (CMakeLists.txt lets "
                            "io use: core)"),
            std::string::npos)
      << bad.output;
  EXPECT_NE(bad.output.find("2 include(s) break the layering"), std::string::npos) << bad.output;
}

TEST(Layering, ACycleInTheDeclaredAreasIsRefused) {
  test::TempDir dir;
  test::write_file(dir / "CMakeLists.txt", "gtgm_add_area(a DEPS gtgm_b)\ngtgm_add_area(b DEPS gtgm_a)\n");
  const auto r = test::run_command(kCheck + " --root " + dir.path().string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("cycle"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace gtgm
