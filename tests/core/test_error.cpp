#include <gtest/gtest.h>

#include "gtgm/core/error.h"
#include "test_util.h"

namespace gtgm {

TEST(Check, MessageHasFormattedTextAndSourceLocation) {
  const int line = __LINE__ + 2;
  try {
    GTGM_CHECK(1 + 1 == 3, "patch size {} is not divisible by stride {}", 7, 2);
    FAIL() << "GTGM_CHECK did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "patch size 7 is not divisible by stride 2");
    EXPECT_EQ(e.location(), "tests/core/test_error.cpp:" + std::to_string(line));
    EXPECT_EQ(std::string(e.what()),
              "patch size 7 is not divisible by stride 2 [tests/core/test_error.cpp:" + std::to_string(line) + "]");
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
  }
}

// Locations are relative to the repository root wherever the checkout lies, also below folders
// named src/, include/ or tests/ (the old rule cut at the first such folder).
TEST(Check, SourceLocationIsRelativeToTheRepositoryRoot) {
  const std::string root = GTGM_SOURCE_ROOT;
  EXPECT_EQ(core::detail::source_location((root + "/tests/core/x.cpp").c_str(), 7), "tests/core/x.cpp:7");
  EXPECT_EQ(core::detail::source_location((root + "/src/core/x.cpp").c_str(), 1), "src/core/x.cpp:1");
  EXPECT_EQ(core::detail::source_location("src/io/y.cpp", 3), "src/io/y.cpp:3");  // already relative
  EXPECT_EQ(core::detail::source_location("/elsewhere/src/a/tests/z.h", 2), "/elsewhere/src/a/tests/z.h:2");
}

TEST(Check, PassingConditionDoesNotThrowOrEvaluateMessage) {
  int evaluated = 0;
  auto count = [&] { return ++evaluated; };
  EXPECT_NO_THROW(GTGM_CHECK(true, "never {}", count()));
  EXPECT_EQ(evaluated, 0);
}

TEST(Check, ConfigErrorIsUsageKind) {
  ConfigError e("bad key");
  EXPECT_EQ(e.kind(), ErrorKind::Usage);
  EXPECT_EQ(std::string(e.what()), "bad key");
}

}  // namespace gtgm

#include <torch/torch.h>

namespace gtgm {
TEST(Check, FormatsTorchSizesDevicesAndDtypes) {
  const auto t = torch::zeros({2, 1, 4});
  EXPECT_THROW_MSG(GTGM_CHECK(false, "got {} on {} as {}", t.sizes(), t.device(), t.scalar_type()),
                   "got [2, 1, 4] on cpu as Float");
}
}  // namespace gtgm
