// core/ on a GPU (skipped without one): device selection, CUDA autocast through the version shims
// (bf16 and fp16, nesting, nothing leaking out), the caching allocator's peak-memory shims and
// seeding of the CUDA generator.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "gtgm/core/device.h"
#include "gtgm/core/seed.h"
#include "gtgm/core/torch_compat.h"
#include "test_util.h"

using namespace gtgm;

TEST(CoreCuda, SelectsDevicesAndRefusesMissingOnes_CUDA) {
  GTGM_REQUIRE_CUDA();
  const int n = core::cuda_device_count();
  ASSERT_GE(n, 1);
  EXPECT_EQ(core::select_device("auto"), torch::Device(torch::kCUDA, 0));
  EXPECT_EQ(core::select_device("cuda"), torch::Device(torch::kCUDA, 0));
  EXPECT_EQ(core::select_device("cuda:0"), torch::Device(torch::kCUDA, 0));
  EXPECT_THROW_MSG(core::select_device("cuda:" + std::to_string(n)),
                   "only " + std::to_string(n) + " CUDA device(s) are visible");
  const torch::Device gpu(torch::kCUDA, 0);
  EXPECT_EQ(core::resolve_precision(core::PrecisionRequest::FP16, gpu), core::Precision::FP16);
  EXPECT_EQ(core::resolve_precision(core::PrecisionRequest::BF16, gpu), core::Precision::BF16);
}

TEST(CoreCuda, AutocastGuardCastsOnTheGpuAndRestores_CUDA) {
  GTGM_REQUIRE_CUDA();
  const torch::Device gpu(torch::kCUDA, 0);
  const auto x = torch::randn({16, 32}, gpu);
  const auto w = torch::randn({32, 8}, gpu);
  for (const auto [p, dtype] :
       {std::pair{core::Precision::BF16, torch::kBFloat16}, std::pair{core::Precision::FP16, torch::kHalf}}) {
    {
      core::AutocastGuard outer(gpu, p);
      EXPECT_TRUE(core::compat::autocast_enabled(c10::DeviceType::CUDA));
      {
        core::AutocastGuard inner(gpu, p);
        EXPECT_EQ(torch::mm(x, w).scalar_type(), dtype);
      }
      // Leaving the inner region keeps the outer one on.
      EXPECT_EQ(torch::mm(x, w).scalar_type(), dtype);
      // CPU tensors are not touched by CUDA autocast.
      EXPECT_EQ(torch::mm(x.cpu(), w.cpu()).scalar_type(), torch::kFloat);
    }
    EXPECT_FALSE(core::compat::autocast_enabled(c10::DeviceType::CUDA));
    EXPECT_EQ(torch::mm(x, w).scalar_type(), torch::kFloat) << "autocast leaked out of the guard";
  }
  {
    core::AutocastGuard none(gpu, core::Precision::FP32);
    EXPECT_EQ(torch::mm(x, w).scalar_type(), torch::kFloat);
  }
}

TEST(CoreCuda, PeakAllocatedBytesFollowTheCachingAllocator_CUDA) {
  GTGM_REQUIRE_CUDA();
  torch::cuda::synchronize();
  core::compat::cuda_reset_peak_allocated(0);
  const int64_t before = core::compat::cuda_peak_allocated_bytes(0);
  {
    const auto big = torch::empty({64, 1024, 1024}, torch::TensorOptions().dtype(torch::kFloat).device(torch::kCUDA));
    EXPECT_GE(core::compat::cuda_peak_allocated_bytes(0), before + 256LL * 1024 * 1024);
  }
  // Freed: the peak stays until it is reset, then drops back.
  EXPECT_GE(core::compat::cuda_peak_allocated_bytes(0), 256LL * 1024 * 1024);
  core::compat::cuda_reset_peak_allocated(0);
  EXPECT_LT(core::compat::cuda_peak_allocated_bytes(0), 256LL * 1024 * 1024);
  EXPECT_GT(core::compat::cuda_runtime_version(), 0);
}

TEST(CoreCuda, SeedEverythingSeedsTheCudaGenerator_CUDA) {
  GTGM_REQUIRE_CUDA();
  core::seed_everything(123);
  const auto a = torch::randn({1000}, torch::kCUDA);
  core::seed_everything(123);
  const auto b = torch::randn({1000}, torch::kCUDA);
  core::seed_everything(124);
  const auto c = torch::randn({1000}, torch::kCUDA);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
}
