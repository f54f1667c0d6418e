// io/safetensors: parity with an independent Python writer/reader, round trips, error messages,
// and module save/load with missing/unexpected key reports.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/io/safetensors.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;

namespace {

const fs::path kRefDir = fs::path(GTGM_TEST_DATA_DIR) / "safetensors";

/// Raw file: u64 LE header length + header + data bytes.
void write_raw(const fs::path& path, const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  test::write_file(path, bytes + header + data);
}

bool python_with_numpy() { return test::run_command("/usr/bin/python3 -c 'import numpy'").exit_code == 0; }

}  // namespace

TEST(SafetensorsParity, ReadsPythonWrittenFile) {
  std::map<std::string, std::string> meta;
  const auto tensors = io::load_safetensors(kRefDir / "reference.safetensors", &meta);
  const auto expected = nlohmann::json::parse(core::read_text_file(kRefDir / "reference_expected.json"));
  EXPECT_EQ(meta.at("format"), "pt");
  EXPECT_EQ(meta.at("source"), "safetensors_reference.py");
  ASSERT_EQ(tensors.size(), expected["tensors"].size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& e = expected["tensors"][i];
    const auto& [name, t] = tensors[i];
    SCOPED_TRACE(name);
    EXPECT_EQ(name, e["name"].get<std::string>());  // file order is kept
    EXPECT_EQ(io::safetensors_dtype_name(t.scalar_type()), e["dtype"].get<std::string>());
    EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>());
    const auto flat = t.reshape({-1});
    ASSERT_EQ(flat.numel(), static_cast<int64_t>(e["values"].size()));
    for (int64_t k = 0; k < flat.numel(); ++k) {
      const auto& v = e["values"][k];
      if (t.scalar_type() == torch::kBool) {
        EXPECT_EQ(flat[k].item<bool>(), v.get<bool>());
      } else if (t.is_floating_point()) {
        EXPECT_EQ(flat[k].item<double>(), v.get<double>()) << "index " << k;  // exact
      } else {
        EXPECT_EQ(flat[k].item<int64_t>(), v.get<int64_t>()) << "index " << k;
      }
    }
  }
}

TEST(SafetensorsParity, CppWrittenFileReadsInPython) {
  if (!python_with_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  std::map<std::string, std::string> meta;
  const auto tensors = io::load_safetensors(kRefDir / "reference.safetensors", &meta);
  test::TempDir dir;
  io::save_safetensors(dir / "cpp.safetensors", tensors, meta);
  const auto [rc, out] =
      test::run_command("/usr/bin/python3 " + std::string(GTGM_SOURCE_ROOT) +
                        "/scripts/reference/safetensors_reference.py --check " + (dir / "cpp.safetensors").string());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("OK 12 tensors"), std::string::npos) << out;
}

TEST(Safetensors, RoundTripEveryDtypeAndLayout) {
  torch::manual_seed(3);
  test::TempDir dir;
  io::NamedTensors in = {
      {"f32_transposed", torch::randn({3, 4}).t()},  // non-contiguous input
      {"f64", torch::randn({2, 2, 2}, torch::kFloat64)},
      {"f16", torch::randn({5}).to(torch::kFloat16)},
      {"bf16", torch::randn({2, 3}).to(torch::kBFloat16)},
      {"i64", torch::randint(-1000000, 1000000, {4}, torch::kInt64)},
      {"i32", torch::randint(-1000, 1000, {4}, torch::kInt32)},
      {"i16", torch::randint(-1000, 1000, {4}, torch::kInt16)},
      {"i8", torch::randint(-128, 127, {4}, torch::kInt8)},
      {"u8", torch::randint(0, 255, {4}, torch::kUInt8)},
      {"bool", torch::rand({6}) > 0.5},
      {"scalar", torch::tensor(1.25)},
      {"empty", torch::zeros({0, 7})},
  };
  io::save_safetensors(dir / "x.safetensors", in, {{"step", "12"}});
  // The header is padded so the data block starts 8-byte aligned.
  const auto entries = io::read_safetensors_header(dir / "x.safetensors");
  std::ifstream f(dir / "x.safetensors", std::ios::binary);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(entries.size(), in.size());

  std::map<std::string, std::string> meta;
  const auto out = io::load_safetensors(dir / "x.safetensors", &meta);
  EXPECT_EQ(meta, (std::map<std::string, std::string>{{"step", "12"}}));
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    SCOPED_TRACE(in[i].first);
    EXPECT_EQ(out[i].first, in[i].first);
    EXPECT_EQ(out[i].second.scalar_type(), in[i].second.scalar_type());
    EXPECT_TRUE(torch::equal(out[i].second, in[i].second));
  }
}

TEST(Safetensors, SaveRejectsBadInput) {
  test::TempDir dir;
  EXPECT_THROW_MSG(io::save_safetensors(dir / "a.safetensors", {{"w", torch::ones(2)}, {"w", torch::ones(2)}}),
                   "duplicate tensor name 'w'");
  EXPECT_THROW_MSG(io::save_safetensors(dir / "a.safetensors", {{"c", torch::ones(2, torch::kComplexFloat)}}),
                   "tensor 'c': dtype ComplexFloat cannot be stored in safetensors");
  EXPECT_THROW_MSG(io::save_safetensors(dir / "a.safetensors", {{"__metadata__", torch::ones(2)}}), "is reserved");
  EXPECT_FALSE(fs::exists(dir / "a.safetensors"));
}

TEST(Safetensors, ClearErrorsForBrokenFiles) {
  test::TempDir dir;
  const std::string good = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data(8, '\0');
  struct Case {
    std::string name, header, data, expected;
  };
  const std::vector<Case> cases = {
      {"trunc_data.st", good, data.substr(0, 5),
       "tensor 'w': data_offsets [0, 8] out of range: the data block holds 5 bytes (file truncated?)"},
      {"bad_json.st", "{\"w\": [", data, "bad safetensors header: not valid JSON"},
      {"not_object.st", "[1,2]", data, "bad safetensors header: expected a JSON object"},
      {"unknown_dtype.st", R"({"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", data,
       "tensor 'w': unknown dtype 'F8_E4M3'"},
      {"size_mismatch.st", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data,
       "tensor 'w': data_offsets [0, 8] span 8 bytes but F32 [3] needs 12"},
      {"reversed.st", R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", data, "are reversed"},
      {"no_offsets.st", R"({"w":{"dtype":"F32","shape":[2]}})", data, "'data_offsets' must be [begin, end]"},
      {"bad_meta.st", R"({"__metadata__":{"a":1}})", "", "__metadata__[\"a\"] is a number, expected a string"},
      {"overlap.st",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       data, "tensors 'a' and 'b' overlap"},
      // #16: 2^32 x 2^32 elements wraps to 0 and matched an empty data block.
      {"overflow.st", R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", data,
       "tensor 'w': shape [4294967296,4294967296] of F32 holds more elements than 64-bit sizes can count"},
      {"overflow_bytes.st", R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", data,
       "tensor 'w': shape [4611686018427387904] of F32 holds more elements than 64-bit sizes can count"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    write_raw(dir / c.name, c.header, c.data);
    EXPECT_THROW_MSG(io::load_safetensors(dir / c.name), c.expected);
    EXPECT_THROW_MSG(io::load_safetensors(dir / c.name), (dir / c.name).string());
  }
  // Header length larger than the file.
  std::string bytes(8, '\0');
  bytes[0] = 100;
  test::write_file(dir / "trunc_header.st", bytes + "{}");
  EXPECT_THROW_MSG(io::load_safetensors(dir / "trunc_header.st"),
                   "truncated safetensors file: header needs 108 bytes, file has 10");
  test::write_file(dir / "tiny.st", "abc");
  EXPECT_THROW_MSG(io::load_safetensors(dir / "tiny.st"), "tiny.st: truncated safetensors file (3 bytes");
  test::write_file(dir / "text.st", "hello world, this is not a safetensors file");
  EXPECT_THROW_MSG(io::load_safetensors(dir / "text.st"), "not a safetensors file?");
  EXPECT_THROW_MSG(io::load_safetensors(dir / "missing.st"), "missing.st does not exist");
}

namespace {
struct NetImpl : torch::nn::Module {
  NetImpl(int in, int out) {
    fc = register_module("fc", torch::nn::Linear(in, out));
    bn = register_module("bn", torch::nn::BatchNorm1d(out));
  }
  torch::Tensor forward(const torch::Tensor& x) { return bn->forward(fc->forward(x)); }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};
TORCH_MODULE(Net);
}  // namespace

TEST(SafetensorsModule, SaveLoadGivesIdenticalOutputs) {
  torch::manual_seed(0);
  test::TempDir dir;
  Net a(4, 3);
  a->train();
  a->forward(torch::randn({8, 4}));  // moves the BatchNorm running statistics (buffers)
  a->eval();
  io::save_module(*a, dir / "net.safetensors", {{"kind", "net"}});
  const auto entries = io::read_safetensors_header(dir / "net.safetensors");
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                              "bn.running_var", "bn.num_batches_tracked"}));
  torch::manual_seed(1);
  Net b(4, 3);
  b->eval();
  const auto report = io::load_module_into(*b, dir / "net.safetensors");
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.loaded.size(), 7u);
  const auto x = torch::randn({5, 4});
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
}

TEST(SafetensorsModule, ReportsMissingAndUnexpectedKeys) {
  test::TempDir dir;
  Net net(4, 3);
  io::save_safetensors(dir / "partial.safetensors",
                       {{"fc.weight", torch::full({3, 4}, 2.0)}, {"head.weight", torch::ones({2})}});
  EXPECT_THROW_MSG(io::load_module_into(*net, dir / "partial.safetensors", /*strict=*/true),
                   "missing 6 [fc.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, "
                   "bn.num_batches_tracked], unexpected 1 [head.weight]");
  EXPECT_FALSE(torch::equal(net->fc->weight, torch::full({3, 4}, 2.0)));  // strict failure changed nothing
  const auto report = io::load_module_into(*net, dir / "partial.safetensors", /*strict=*/false);
  EXPECT_EQ(report.loaded, std::vector<std::string>{"fc.weight"});
  EXPECT_EQ(report.missing.size(), 6u);
  EXPECT_EQ(report.unexpected, std::vector<std::string>{"head.weight"});
  EXPECT_TRUE(torch::equal(net->fc->weight, torch::full({3, 4}, 2.0)));
  EXPECT_TRUE(net->fc->weight.requires_grad());

  io::save_safetensors(dir / "shape.safetensors", {{"fc.weight", torch::ones({4, 4})}});
  EXPECT_THROW_MSG(io::load_module_into(*net, dir / "shape.safetensors", false),
                   "tensor 'fc.weight' has shape [4, 4] but the module expects [3, 4]");
}

TEST(SafetensorsModule, ConvertsDtypeOnLoad) {
  test::TempDir dir;
  Net net(2, 2);
  io::save_safetensors(dir / "half.safetensors", {{"fc.weight", torch::full({2, 2}, 0.5).to(torch::kFloat16)}});
  io::load_module_into(*net, dir / "half.safetensors", false);
  EXPECT_EQ(net->fc->weight.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(net->fc->weight, torch::full({2, 2}, 0.5)));
}

}  // namespace gtgm
