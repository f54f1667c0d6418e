#include "gtgm/text/text_encoder.h"

#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/strings.h"

namespace fs = std::filesystem;

namespace gtgm::text {
namespace {

/// Pools [N, L, H] model output, passes [N, H] through.
torch::Tensor pool_output(const torch::Tensor& out, const torch::Tensor& mask, config::Pooling pooling,
                          const std::string& source) {
  if (out.dim() == 2) return out;
  GTGM_CHECK(out.dim() == 3, "{}: text model returned {}; expected [N, L, H] or [N, H]", source, core::shape_str(out.sizes()));
  if (pooling == config::Pooling::CLS) return out.select(1, 0);
  GTGM_CHECK(pooling == config::Pooling::Mean,
             "{}: pooling '{}' needs a BERT model; TorchScript encoders support cls and mean", source,
             config::to_string(pooling));
  const auto m = mask.to(out.device(), out.scalar_type()).unsqueeze(-1);
  return (out * m).sum(1) / m.sum(1).clamp_min(1e-9);
}

std::string freeze_text(int k) {
  return k == -1 ? "frozen" : k == 0 ? "trainable" : fmt::format("first {} layers + embeddings frozen", k);
}

fs::path find_vocab(const config::TextConfig& cfg, const fs::path& folder) {
  const fs::path vocab = cfg.vocab.empty() ? folder / "vocab.txt" : fs::path(cfg.vocab);
  std::error_code ec;
  GTGM_CHECK(fs::is_regular_file(vocab, ec), "text.vocab: {} not found{}", vocab.string(),
             cfg.vocab.empty() ? " (set text.vocab, or put vocab.txt beside the model)" : "");
  return vocab;
}

}  // namespace

// ---- BERT ---------------------------------------------------------------------------------------

BertTextEncoder::BertTextEncoder(BertModel model, std::shared_ptr<WordPieceTokenizer> tokenizer,
                                 config::Pooling pooling, int max_length, int freeze_layers, std::string source)
    : TextEncoder("BertTextEncoder"),
      model_(register_module("bert", std::move(model))),
      pooling_(pooling),
      freeze_layers_(freeze_layers),
      source_(std::move(source)) {
  tokenizer_ = std::move(tokenizer);
  GTGM_CHECK(tokenizer_->vocab_size() <= model_->config().vocab_size,
             "{}: vocab.txt has {} tokens but config.json's vocab_size is {}", source_, tokenizer_->vocab_size(),
             model_->config().vocab_size);
  const int64_t positions = model_->config().max_position_embeddings;
  max_length_ = max_length;
  if (max_length_ > positions) {
    GTGM_WARN("text.max_length {} exceeds the model's max_position_embeddings {}; using {}", max_length_, positions,
              positions);
    max_length_ = static_cast<int>(positions);
  }
  model_->freeze(freeze_layers_);
  if (frozen()) model_->eval();
}

torch::Tensor BertTextEncoder::hidden_states(const Encoding& batch) {
  const auto dev = device();
  return model_->forward(batch.input_ids.to(dev), batch.attention_mask.to(dev), batch.token_type_ids.to(dev));
}

torch::Tensor BertTextEncoder::encode(const std::vector<std::string>& texts) {
  if (texts.empty()) return torch::zeros({0, dim()}, torch::TensorOptions().device(device()));
  const auto batch = tokenizer_->encode(texts, max_length_);
  std::optional<torch::NoGradGuard> no_grad;
  if (frozen()) no_grad.emplace();
  const auto hidden = hidden_states(batch);  // [N, L, H]
  return pool_hidden(*model_, hidden, batch.attention_mask, pooling_).to(torch::kFloat);  // [N, H]
}

std::string BertTextEncoder::describe() const {
  const auto& c = model_->config();
  return fmt::format("bert {} layers, {}-d, vocab {} from {}; pooling {}, max_length {}, {}", c.num_hidden_layers,
                     c.hidden_size, c.vocab_size, source_, config::to_string(pooling_), max_length_,
                     freeze_text(freeze_layers_));
}

// ---- TorchScript --------------------------------------------------------------------------------

TorchScriptTextEncoder::TorchScriptTextEncoder(const fs::path& module_path,
                                               std::shared_ptr<WordPieceTokenizer> tokenizer, config::Pooling pooling,
                                               int max_length)
    : TextEncoder("TorchScriptTextEncoder"), path_(module_path.string()), pooling_(pooling) {
  tokenizer_ = std::move(tokenizer);
  max_length_ = max_length;
  GTGM_CHECK(pooling_ != config::Pooling::Pooler,
             "text.pooling: 'pooler' needs text.type bert; a TorchScript encoder ({}) "
             "supports cls and mean (or returns [N, H] itself)",
             path_);
  try {
    module_ = torch::jit::load(path_);
  } catch (const std::exception& e) {
    GTGM_THROW("{}: cannot load TorchScript module: {}", path_, std::string(e.what()).substr(0, 300));
  }
  module_.eval();
  const auto& schema = module_.get_method("forward").function().getSchema();
  num_inputs_ = schema.arguments().size() - 1;  // without self
  GTGM_CHECK(num_inputs_ == 2 || num_inputs_ == 3,
             "{}: forward takes {} inputs; expected (input_ids, attention_mask[, token_type_ids])", path_, num_inputs_);
  dim_ = encode({"a"}).size(1);  // probe the output width once
}

torch::Tensor TorchScriptTextEncoder::encode(const std::vector<std::string>& texts) {
  if (texts.empty()) return torch::zeros({0, dim_}, torch::TensorOptions().device(device_));
  const auto batch = tokenizer_->encode(texts, max_length_);
  torch::NoGradGuard no_grad;
  std::vector<torch::IValue> inputs{batch.input_ids.to(device_), batch.attention_mask.to(device_)};
  if (num_inputs_ == 3) inputs.emplace_back(batch.token_type_ids.to(device_));
  torch::IValue out;
  try {
    out = module_.forward(inputs);
  } catch (const std::exception& e) {
    GTGM_THROW("{}: forward failed on a batch {}: {}", path_, core::shape_str(batch.input_ids.sizes()),
               std::string(e.what()).substr(0, 400));
  }
  if (out.isTuple()) out = out.toTupleRef().elements().at(0);
  if (out.isGenericDict()) {
    const auto dict = out.toGenericDict();
    GTGM_CHECK(dict.contains("last_hidden_state"), "{}: forward returned a dict without 'last_hidden_state'", path_);
    out = dict.at("last_hidden_state");
  }
  GTGM_CHECK(out.isTensor(), "{}: forward returned {}; expected a tensor, tuple or dict", path_, out.tagKind());
  return pool_output(out.toTensor(), batch.attention_mask, pooling_, path_).to(torch::kFloat);
}

std::string TorchScriptTextEncoder::describe() const {
  return fmt::format("torchscript {} ({}-d); pooling {}, max_length {}, frozen", path_, dim_,
                     config::to_string(pooling_), max_length_);
}

void TorchScriptTextEncoder::to(torch::Device device, bool non_blocking) {
  module_.to(device, non_blocking);
  device_ = device;
  torch::nn::Module::to(device, non_blocking);
}

// ---- factory ------------------------------------------------------------------------------------

WordPieceOptions tokenizer_options(const fs::path& folder, const config::TextConfig& cfg) {
  WordPieceOptions opt;
  nlohmann::json tc = nlohmann::json::object();
  const fs::path tc_path = folder / "tokenizer_config.json";
  std::error_code ec;
  if (fs::is_regular_file(tc_path, ec)) {
    try {
      tc = nlohmann::json::parse(core::read_text_file(tc_path));
    } catch (const nlohmann::json::exception& e) {
      GTGM_THROW("{}: not valid JSON ({})", tc_path.string(), e.what());
    }
  }
  if (cfg.lower_case != config::AutoBool::Auto) {
    opt.lower_case = cfg.lower_case == config::AutoBool::True;
  } else if (tc.contains("do_lower_case") && tc["do_lower_case"].is_boolean()) {
    opt.lower_case = tc["do_lower_case"].get<bool>();
  } else {
    opt.lower_case = true;  // BertTokenizer's default (a cased vocab without tokenizer_config.json is lowered too)
  }
  if (cfg.strip_accents != config::AutoBool::Auto) {
    opt.strip_accents = cfg.strip_accents == config::AutoBool::True;
  } else if (tc.contains("strip_accents") && tc["strip_accents"].is_boolean()) {
    opt.strip_accents = tc["strip_accents"].get<bool>();
  }
  if (tc.contains("tokenize_chinese_chars") && tc["tokenize_chinese_chars"].is_boolean())
    opt.tokenize_chinese_chars = tc["tokenize_chinese_chars"].get<bool>();
  for (auto [key, out] : {std::pair<const char*, std::string*>{"unk_token", &opt.unk_token},
                          {"cls_token", &opt.cls_token}, {"sep_token", &opt.sep_token},
                          {"pad_token", &opt.pad_token}, {"mask_token", &opt.mask_token}}) {
    if (tc.contains(key) && tc[key].is_string()) *out = tc[key].get<std::string>();
  }
  return opt;
}

std::shared_ptr<TextEncoder> build_text_encoder(const config::TextConfig& cfg) {
  GTGM_CHECK(!cfg.model_dir.empty(), "text.model_dir is empty: point it at a Hugging Face BERT folder "
             "(config.json, vocab.txt, model.safetensors or pytorch_model.bin) or a TorchScript .pt file");
  const fs::path model(cfg.model_dir);
  std::error_code ec;
  if (cfg.type == config::TextEncoderType::TorchScript) {
    GTGM_CHECK(fs::is_regular_file(model, ec), "text.model_dir: TorchScript file {} not found", model.string());
    const fs::path vocab = find_vocab(cfg, model.parent_path());
    auto tok = std::make_shared<WordPieceTokenizer>(
        WordPieceTokenizer::from_vocab_file(vocab, tokenizer_options(vocab.parent_path(), cfg)));
    auto enc = std::make_shared<TorchScriptTextEncoder>(model, std::move(tok), cfg.pooling, cfg.max_length);
    GTGM_INFO("text encoder: {}", enc->describe());
    return enc;
  }
  GTGM_CHECK(fs::is_directory(model, ec), "text.model_dir: {} is not a folder (expected a Hugging Face BERT folder)",
             model.string());
  const fs::path config_json = model / "config.json";
  GTGM_CHECK(fs::is_regular_file(config_json, ec), "text.model_dir: {} has no config.json", model.string());
  fs::path weights;
  if (!cfg.weights.empty()) {
    weights = fs::path(cfg.weights).is_absolute() || fs::exists(cfg.weights) ? fs::path(cfg.weights) : model / cfg.weights;
    GTGM_CHECK(fs::is_regular_file(weights, ec), "text.weights: {} not found", weights.string());
  } else if (fs::is_regular_file(model / "model.safetensors", ec)) {
    weights = model / "model.safetensors";
  } else if (fs::is_regular_file(model / "pytorch_model.bin", ec)) {
    weights = model / "pytorch_model.bin";
  } else {
    GTGM_THROW("text.model_dir: {} has neither model.safetensors nor pytorch_model.bin (sharded checkpoints "
               "are not supported; set text.weights to a single file)", model.string());
  }
  const auto bert_cfg = BertConfig::from_json_file(config_json);
  const fs::path vocab = find_vocab(cfg, model);
  auto tok = std::make_shared<WordPieceTokenizer>(
      WordPieceTokenizer::from_vocab_file(vocab, tokenizer_options(vocab.parent_path(), cfg)));
  BertModel bert(bert_cfg);
  load_bert_weights(*bert, weights, /*need_pooler=*/cfg.pooling == config::Pooling::Pooler);
  auto enc = std::make_shared<BertTextEncoder>(std::move(bert), std::move(tok), cfg.pooling, cfg.max_length,
                                               cfg.freeze_layers, weights.string());
  GTGM_INFO("text encoder: {}", enc->describe());
  return enc;
}

}  // namespace gtgm::text
