#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "gtgm/core/device.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/progress.h"
#include "gtgm/core/seed.h"
#include "test_util.h"

namespace gtgm {

TEST(Seed, SameSeedSameTorchAndStdStreams) {
  core::seed_everything(7);
  const auto a = torch::rand({5});
  const auto ea = core::global_engine()();
  core::seed_everything(7);
  const auto b = torch::rand({5});
  const auto eb = core::global_engine()();
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_EQ(ea, eb);
  core::seed_everything(8);
  EXPECT_FALSE(torch::equal(a, torch::rand({5})));
}

TEST(Seed, DeriveSeedIsStableAndSeparatesStreams) {
  EXPECT_EQ(core::derive_seed(42, {1, 2, 3}), core::derive_seed(42, {1, 2, 3}));
  EXPECT_NE(core::derive_seed(42, {1, 2, 3}), core::derive_seed(42, {1, 3, 2}));
  EXPECT_NE(core::derive_seed(42, {0}), core::derive_seed(43, {0}));
  EXPECT_NE(core::derive_seed(42, {}), core::derive_seed(42, {0}));
}

TEST(Device, ParsesSpecs) {
  EXPECT_EQ(core::select_device("cpu"), torch::Device(torch::kCPU));
  if (core::cuda_device_count() == 0) {
    EXPECT_EQ(core::select_device("auto"), torch::Device(torch::kCPU));
    EXPECT_THROW_MSG(core::select_device("cuda:0"), "no CUDA device is visible");
  }
  EXPECT_THROW_MSG(core::select_device("gpu"), "unknown device 'gpu'; expected auto, cpu, cuda or cuda:N");
  EXPECT_THROW_MSG(core::select_device("cuda:x"), "unknown device 'cuda:x'");
}

TEST(Device, PrecisionResolution) {
  const torch::Device cpu(torch::kCPU);
  using core::PrecisionRequest;
  EXPECT_EQ(core::resolve_precision(PrecisionRequest::FP32, cpu), core::Precision::FP32);
  EXPECT_EQ(core::resolve_precision(PrecisionRequest::Auto, cpu),
            core::cpu_has_bf16() ? core::Precision::BF16 : core::Precision::FP32);
  EXPECT_EQ(core::resolve_precision(PrecisionRequest::BF16, cpu),
            core::cpu_has_bf16() ? core::Precision::BF16 : core::Precision::FP32);
  EXPECT_THROW_MSG(core::resolve_precision(PrecisionRequest::FP16, cpu), "fp16 needs a CUDA device");
}

TEST(Device, AutocastGuardRunsBf16OnlyWhereSupported) {
  const torch::Device cpu(torch::kCPU);
  const auto p = core::resolve_precision(core::PrecisionRequest::BF16, cpu);
  auto x = torch::randn({4, 8});
  auto w = torch::randn({8, 3});
  {
    core::AutocastGuard guard(cpu, p);
    const auto y = torch::mm(x, w);
    EXPECT_EQ(y.scalar_type(), p == core::Precision::BF16 ? torch::kBFloat16 : torch::kFloat);
  }
  EXPECT_EQ(torch::mm(x, w).scalar_type(), torch::kFloat) << "autocast leaked out of the guard";
}

TEST(Progress, LineShowsPercentRateEta) {
  core::Progress p("pretrain", 200, "step", nullptr);
  const std::string line = p.line(50, "loss 1.234");
  EXPECT_NE(line.find("pretrain  25.0% 50/200"), std::string::npos) << line;
  EXPECT_NE(line.find("step/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA"), std::string::npos) << line;
  EXPECT_NE(line.find("| loss 1.234"), std::string::npos) << line;
  EXPECT_EQ(core::format_duration(3725), "1h02m");
  EXPECT_EQ(core::format_duration(185), "3m05s");
  EXPECT_EQ(core::format_duration(12), "12s");
}

TEST(Logging, LevelsAreValidated) {
  EXPECT_EQ(core::parse_log_level("debug"), spdlog::level::debug);
  EXPECT_THROW_MSG(core::parse_log_level("verbose"), "unknown log level 'verbose'; expected one of: trace, debug");
}

TEST(Logging, FileSinkReceivesRank0Lines) {
  test::TempDir dir;
  core::add_log_file(dir / "log.txt");
  GTGM_INFO("hello from the test {}", 42);
  core::remove_log_files();
  std::ifstream in(dir / "log.txt");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(all.find("hello from the test 42"), std::string::npos);
}

TEST(Logging, ScopedLogFileReceivesOnlyLinesOfItsLifetime) {
  test::TempDir dir;
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  {
    core::ScopedLogFile first(dir / "a" / "log.txt");
    GTGM_INFO("line of run a");
  }
  {
    core::ScopedLogFile second(dir / "b" / "log.txt");
    GTGM_INFO("line of run b");
  }
  GTGM_INFO("line after both runs");
  const std::string a = read(dir / "a" / "log.txt"), b = read(dir / "b" / "log.txt");
  EXPECT_NE(a.find("line of run a"), std::string::npos);
  EXPECT_EQ(a.find("line of run b"), std::string::npos) << a;
  EXPECT_NE(b.find("line of run b"), std::string::npos);
  EXPECT_EQ(b.find("line of run a"), std::string::npos) << b;
  EXPECT_EQ((a + b).find("line after both runs"), std::string::npos);
}

TEST(Logging, AFullDiskWarnsOnceAndLoggingGoesOn) {
  // #16: a disk that fills during training made spdlog's file sink throw spdlog_ex from a flush
  // (in ScopedLogFile's destructor: std::terminate, exit 134). /dev/full fails every write.
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW({
    core::ScopedLogFile full("/dev/full");
    for (int i = 0; i < 50; ++i) GTGM_WARN("line {} to a full disk", i);  // warn flushes each line
    core::logger().flush();
  });
  EXPECT_NO_THROW({
    core::add_log_file("/dev/full");
    GTGM_WARN("one more line");
    core::remove_log_files();
  });
  const std::string err = testing::internal::GetCapturedStderr();
  const std::string warning = "gtgm: warning: cannot write the log file /dev/full";
  const auto first = err.find(warning);
  ASSERT_NE(first, std::string::npos) << err;
  // Once per file sink (two sinks were opened above), not once per line.
  const auto second = err.find(warning, first + 1);
  ASSERT_NE(second, std::string::npos) << err;
  EXPECT_EQ(err.find(warning, second + 1), std::string::npos) << err;
  EXPECT_NE(err.find("line 49 to a full disk"), std::string::npos) << "the console still gets every line";
}

}  // namespace gtgm
