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
