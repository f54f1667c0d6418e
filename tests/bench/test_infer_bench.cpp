// `gtgm bench infer` measures, it asserts no speed; here only that both sides compute the same
// thing (the checksum of the blended logits) and that the report is complete.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gtgm/bench/infer_bench.h"
#include "test_util.h"

namespace gtgm {
namespace {

TEST(InferBench, GtgmAndPythonReferenceComputeTheSameLogits) {
  bench::InferBenchOptions o;
  o.size = {10, 20, 18};
  o.patch = {6, 8, 8};
  o.channels = 4;
  o.classes = 3;
  o.repeats = 1;
  o.threads = 1;
  o.reference_script = std::string(GTGM_SOURCE_ROOT) + "/scripts/bench/infer_reference.py";
  const bench::InferBenchResult ours = bench::run_infer_bench(o);
  const bench::InferBenchResult ref = bench::run_infer_reference(o);
  EXPECT_EQ(ours.impl, "gtgm");
  EXPECT_EQ(ref.impl, "python-reference");
  EXPECT_NEAR(ours.checksum, ref.checksum, 1e-7);
  EXPECT_EQ(ours.label_sum, ref.label_sum);
  EXPECT_GT(ours.voxels_per_s, 0);
  const std::string table = bench::format_infer_bench(o, ours, &ref);
  EXPECT_NE(table.find("ratio gtgm / reference: throughput"), std::string::npos) << table;
  EXPECT_NE(table.find("label sums equal"), std::string::npos) << table;
  const auto j = nlohmann::json::parse(bench::infer_bench_json(o, ours, &ref));
  EXPECT_TRUE(j.contains("throughput_ratio"));
  EXPECT_EQ(j.at("reference").at("impl"), "python-reference");
}

TEST(InferBench, MissingReferenceScriptIsAClearError) {
  bench::InferBenchOptions o;
  o.reference_script = "/nonexistent/infer_reference.py";
  EXPECT_THROW_MSG(bench::run_infer_reference(o), "reference script /nonexistent/infer_reference.py not found");
}

}  // namespace
}  // namespace gtgm
