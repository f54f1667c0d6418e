// The test binary's main: the same host allocator settings as the gtgm executable (core/host_allocator.h),
// so that the tests run the memory behaviour users get, then GoogleTest.
#include <gtest/gtest.h>

#include "gtgm/core/host_allocator.h"

int main(int argc, char** argv) {
  gtgm::core::configure_host_allocator();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
