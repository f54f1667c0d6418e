// BERT text encoder: parity with the plain-PyTorch reference (scripts/reference/bert_reference.py)
// from model.safetensors, pytorch_model.bin and TorchScript; freezing; checkpoint errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/text/text_encoder.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;

namespace {

struct Expected {
  std::vector<std::string> sentences;
  int max_length = 0;
  std::map<std::string, torch::Tensor> t;
};

Expected expected() {
  std::map<std::string, std::string> meta;
  Expected e;
  for (auto& [k, v] : io::load_safetensors(test::bert_tiny_dir() / "expected.safetensors", &meta)) e.t[k] = v;
  e.sentences = nlohmann::json::parse(meta.at("sentences")).get<std::vector<std::string>>();
  e.max_length = std::stoi(meta.at("max_length"));
  return e;
}

config::TextConfig tiny_config(const std::string& pooling = "cls") {
  config::TextConfig c;
  c.model_dir = test::bert_tiny_dir().string();
  c.pooling = *config::parse_enum<config::Pooling>(pooling);
  c.max_length = 20;
  return c;
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double diff = (a.cpu().to(torch::kDouble) - b.cpu().to(torch::kDouble)).abs().max().item<double>();
  EXPECT_LE(diff, tol) << what << ": max abs difference " << diff;
}

/// Copies the tiny model folder without its weight files (tests then add their own).
fs::path copy_folder_without_weights(const test::TempDir& dir) {
  const fs::path out = dir / "model";
  fs::create_directories(out);
  for (const char* f : {"config.json", "vocab.txt", "tokenizer_config.json"})
    fs::copy_file(test::bert_tiny_dir() / f, out / f);
  return out;
}

}  // namespace

TEST(BertParity, SafetensorsMatchesPythonReference) {
  const auto e = expected();
  for (const std::string pooling : {"cls", "mean", "pooler"}) {
    SCOPED_TRACE(pooling);
    auto enc = text::build_text_encoder(tiny_config(pooling));
    auto* bert = dynamic_cast<text::BertTextEncoder*>(enc.get());
    ASSERT_NE(bert, nullptr);
    const auto batch = enc->tokenizer().encode(e.sentences, e.max_length);
    EXPECT_TRUE(torch::equal(batch.input_ids, e.t.at("input_ids")));
    EXPECT_TRUE(torch::equal(batch.attention_mask, e.t.at("attention_mask")));
    torch::NoGradGuard g;
    expect_close(bert->hidden_states(batch), e.t.at("last_hidden_state"), 1e-5, "last_hidden_state");
    expect_close(enc->encode(e.sentences), e.t.at(pooling), 1e-5, pooling);
    EXPECT_EQ(enc->dim(), 12);
  }
}

TEST(BertParity, PytorchModelBinMatchesAndReportsHeads) {
  const auto e = expected();
  auto cfg = tiny_config("pooler");
  cfg.weights = "pytorch_model.bin";
  auto enc = text::build_text_encoder(cfg);
  expect_close(enc->encode(e.sentences), e.t.at("pooler"), 1e-5, "pooler from pytorch_model.bin");
  // The report of the raw loader: "bert." prefix mapped, heads unexpected, position_ids ignored.
  text::BertModel fresh(text::BertConfig::from_json_file(test::bert_tiny_dir() / "config.json"));
  const auto report = text::load_bert_weights(*fresh, test::bert_tiny_dir() / "pytorch_model.bin", true);
  EXPECT_TRUE(report.missing.empty()) << report.summary();
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"cls.predictions.bias", "cls.seq_relationship.weight"}));
  const auto state = text::load_torch_state_dict(test::bert_tiny_dir() / "pytorch_model.bin");
  EXPECT_EQ(state.front().first, "bert.embeddings.word_embeddings.weight");
}

TEST(BertParity, TorchScriptExportMatches) {
  const auto e = expected();
  for (const std::string pooling : {"cls", "mean"}) {
    auto cfg = tiny_config(pooling);
    cfg.type = config::TextEncoderType::TorchScript;
    cfg.model_dir = (test::bert_tiny_dir() / "text_encoder.pt").string();
    auto enc = text::build_text_encoder(cfg);
    EXPECT_TRUE(enc->frozen());
    EXPECT_EQ(enc->dim(), 12);
    expect_close(enc->encode(e.sentences), e.t.at(pooling), 1e-5, "torchscript " + pooling);
  }
  auto cfg = tiny_config("pooler");
  cfg.type = config::TextEncoderType::TorchScript;
  cfg.model_dir = (test::bert_tiny_dir() / "text_encoder.pt").string();
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "'pooler' needs text.type bert");
}

TEST(BertParity, TensorFlowStyleLayerNormNamesAndHalfWeights) {
  const auto e = expected();
  test::TempDir dir;
  const auto folder = copy_folder_without_weights(dir);
  io::NamedTensors renamed;
  for (auto& [k, v] : io::load_safetensors(test::bert_tiny_dir() / "model.safetensors")) {
    std::string key = "bert." + k;
    if (key.size() > 16 && key.compare(key.size() - 16, 16, "LayerNorm.weight") == 0)
      key = key.substr(0, key.size() - 6) + "gamma";
    if (key.size() > 14 && key.compare(key.size() - 14, 14, "LayerNorm.bias") == 0)
      key = key.substr(0, key.size() - 4) + "beta";
    renamed.emplace_back(key, v);
  }
  io::save_safetensors(folder / "model.safetensors", renamed);
  auto cfg = tiny_config();
  cfg.model_dir = folder.string();
  expect_close(text::build_text_encoder(cfg)->encode(e.sentences), e.t.at("cls"), 1e-5, "gamma/beta names");

  // fp16 weights load into the fp32 model (values rounded to half precision).
  io::NamedTensors half;
  for (auto& [k, v] : io::load_safetensors(test::bert_tiny_dir() / "model.safetensors"))
    half.emplace_back(k, v.to(torch::kHalf));
  io::save_safetensors(folder / "model.safetensors", half);
  expect_close(text::build_text_encoder(cfg)->encode(e.sentences), e.t.at("cls"), 5e-2, "fp16 weights");
}

TEST(BertParity, LayerNormEpsComesFromConfigJson) {
  // The reference uses layer_norm_eps 1e-3; with HF's default 1e-12 the outputs move measurably.
  const auto e = expected();
  test::TempDir dir;
  const auto folder = copy_folder_without_weights(dir);
  fs::copy_file(test::bert_tiny_dir() / "model.safetensors", folder / "model.safetensors");
  auto j = nlohmann::json::parse(core::read_text_file(test::bert_tiny_dir() / "config.json"));
  j.erase("layer_norm_eps");
  test::write_file(folder / "config.json", j.dump());
  auto cfg = tiny_config();
  cfg.model_dir = folder.string();
  const auto out = text::build_text_encoder(cfg)->encode(e.sentences);
  EXPECT_GT((out - e.t.at("cls")).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(text::BertConfig::from_json_file(folder / "config.json").layer_norm_eps, 1e-12);
}

TEST(BertEncoder, FreezingAllOrFirstLayers) {
  auto cfg = tiny_config();
  cfg.freeze_layers = -1;
  auto frozen = text::build_text_encoder(cfg);
  EXPECT_TRUE(frozen->frozen());
  for (const auto& p : frozen->parameters()) EXPECT_FALSE(p.requires_grad());
  EXPECT_FALSE(frozen->encode({"the liver"}).requires_grad());

  cfg.freeze_layers = 1;
  auto partial = text::build_text_encoder(cfg);
  EXPECT_FALSE(partial->frozen());
  for (const auto& p : partial->named_parameters()) {
    const bool should_train =
        p.key().find("encoder.layer.1.") != std::string::npos || p.key().find("pooler.") != std::string::npos;
    EXPECT_EQ(p.value().requires_grad(), should_train) << p.key();
  }
  partial->encode({"the liver shows a lesion", "ct scan"}).pow(2).sum().backward();
  for (const auto& p : partial->named_parameters()) {
    if (p.key().find("encoder.layer.1.attention.self.query.weight") != std::string::npos) {
      ASSERT_TRUE(p.value().grad().defined());
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0);
    }
    if (!p.value().requires_grad()) EXPECT_FALSE(p.value().grad().defined()) << p.key();
  }
  cfg.freeze_layers = 0;
  for (const auto& p : text::build_text_encoder(cfg)->parameters()) EXPECT_TRUE(p.requires_grad());
  cfg.freeze_layers = 3;
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "freeze_layers 3 is out of range");
}

TEST(BertEncoder, MaxLengthCappedByPositionsAndTokenizerSettings) {
  auto cfg = tiny_config();
  cfg.max_length = 128;
  auto enc = text::build_text_encoder(cfg);
  EXPECT_EQ(enc->max_length(), 32);
  const std::string long_text = [] {
    std::string s;
    for (int i = 0; i < 60; ++i) s += "liver ";
    return s;
  }();
  EXPECT_EQ(enc->encode({long_text, "ct"}).sizes().vec(), (std::vector<int64_t>{2, 12}));
  EXPECT_TRUE(text::tokenizer_options(test::bert_tiny_dir(), cfg).lower_case);  // tokenizer_config.json
  cfg.lower_case = config::AutoBool::False;
  EXPECT_FALSE(text::tokenizer_options(test::bert_tiny_dir(), cfg).lower_case);
  EXPECT_EQ(enc->encode({}).sizes().vec(), (std::vector<int64_t>{0, 12}));
}

TEST(BertEncoder, ClearErrorsForBrokenFolders) {
  test::TempDir dir;
  auto cfg = tiny_config();
  cfg.model_dir = "";
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "text.model_dir is empty");
  cfg.model_dir = (dir / "nope").string();
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "is not a folder");
  const auto folder = copy_folder_without_weights(dir);
  cfg.model_dir = folder.string();
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "has neither model.safetensors nor pytorch_model.bin");

  // A checkpoint missing a layer names the missing keys.
  io::NamedTensors partial;
  for (auto& [k, v] : io::load_safetensors(test::bert_tiny_dir() / "model.safetensors"))
    if (k.find("encoder.layer.1.") == std::string::npos) partial.emplace_back(k, v);
  io::save_safetensors(folder / "model.safetensors", partial);
  EXPECT_THROW_MSG(text::build_text_encoder(cfg),
                   "BERT weights are missing (encoder.layer.1.attention.self.query.weight");

  // config.json that does not match the weights: shape error names the tensor.
  fs::copy_file(test::bert_tiny_dir() / "model.safetensors", folder / "model.safetensors",
                fs::copy_options::overwrite_existing);
  auto j = nlohmann::json::parse(core::read_text_file(test::bert_tiny_dir() / "config.json"));
  j["intermediate_size"] = 16;
  test::write_file(folder / "config.json", j.dump());
  EXPECT_THROW_MSG(
      text::build_text_encoder(cfg),
      "tensor 'encoder.layer.0.intermediate.dense.weight' has shape [24, 12] but the module expects [16, 12]");
  j["intermediate_size"] = "24";
  test::write_file(folder / "config.json", j.dump());
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "config.json: 'intermediate_size' must be an integer");
  j["intermediate_size"] = 24;
  j["num_attention_heads"] = 5;
  test::write_file(folder / "config.json", j.dump());
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "hidden_size 12 is not divisible by num_attention_heads 5");
  j["num_attention_heads"] = 3;
  j["model_type"] = "roberta";
  test::write_file(folder / "config.json", j.dump());
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "model_type 'roberta' is not a BERT model");
  j["model_type"] = "bert";
  test::write_file(folder / "config.json", j.dump());
  fs::remove(folder / "vocab.txt");
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "vocab.txt not found");
  test::write_file(folder / "pytorch_model.bin", "not a pickle");
  cfg.weights = (folder / "pytorch_model.bin").string();
  cfg.vocab = (test::bert_tiny_dir() / "vocab.txt").string();
  EXPECT_THROW_MSG(text::build_text_encoder(cfg), "cannot read a torch.save'd state dict");
}

TEST(BertEncoder, ForwardMatchesOnCuda_CUDA) {
  GTGM_REQUIRE_CUDA();
  const auto e = expected();
  auto enc = text::build_text_encoder(tiny_config("mean"));
  enc->to(torch::Device(torch::kCUDA, 0));
  const auto out = enc->encode(e.sentences);
  EXPECT_TRUE(out.is_cuda());
  expect_close(out, e.t.at("mean"), 1e-4, "mean on CUDA");
}

}  // namespace gtgm
