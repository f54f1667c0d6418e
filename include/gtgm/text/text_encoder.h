#pragma once
/// The text encoder f_T of GTGM: captions -> sentence embeddings. Two kinds, picked by `text.type`:
///  - "bert": a Hugging Face BERT folder (config.json, vocab.txt, model.safetensors or
///    pytorch_model.bin; optional tokenizer_config.json), e.g. dmis-lab/biobert-v1.1;
///  - "torchscript": any exported module `forward(input_ids, attention_mask[, token_type_ids])`
///    returning [N, L, H] (pooled here), [N, H], a tuple (first element) or a dict
///    ("last_hidden_state"), tokenized with a WordPiece vocab.txt.
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtgm/config/text_config.h"
#include "gtgm/text/bert.h"
#include "gtgm/text/tokenizer.h"

namespace gtgm::text {

/// Abstract text encoder (a torch module so optimisers and `to(device)` see its parameters).
class TextEncoder : public torch::nn::Module {
 public:
  explicit TextEncoder(const std::string& name) : torch::nn::Module(name) {}
  /// texts -> [N, dim()] float on device(). Runs without autograd when frozen().
  virtual torch::Tensor encode(const std::vector<std::string>& texts) = 0;
  /// Embedding size (768 for BERT-base).
  virtual int64_t dim() const = 0;
  /// Whether no parameter is trained (the embedding cache is then valid).
  virtual bool frozen() const = 0;
  /// Where encode() computes.
  virtual torch::Device device() const = 0;
  /// One line for logs: kind, size, source, pooling, frozen part.
  virtual std::string describe() const = 0;
  const WordPieceTokenizer& tokenizer() const { return *tokenizer_; }
  int max_length() const { return max_length_; }

 protected:
  std::shared_ptr<WordPieceTokenizer> tokenizer_;
  int max_length_ = 128;
};

/// BERT from a Hugging Face folder; pooling "cls" | "mean" | "pooler".
class BertTextEncoder : public TextEncoder {
 public:
  BertTextEncoder(BertModel model, std::shared_ptr<WordPieceTokenizer> tokenizer, config::Pooling pooling,
                  int max_length, int freeze_layers, std::string source);
  torch::Tensor encode(const std::vector<std::string>& texts) override;
  /// The raw forward: last hidden state [N, L, H] of a tokenized batch.
  torch::Tensor hidden_states(const Encoding& batch);
  int64_t dim() const override { return model_->config().hidden_size; }
  bool frozen() const override { return freeze_layers_ == -1; }
  torch::Device device() const override { return model_->word_embeddings->weight.device(); }
  std::string describe() const override;
  BertModel& model() { return model_; }

 private:
  BertModel model_{nullptr};
  config::Pooling pooling_;
  int freeze_layers_;
  std::string source_;
};

/// A TorchScript module (always frozen: its weights are not exposed to optimisers).
class TorchScriptTextEncoder : public TextEncoder {
 public:
  TorchScriptTextEncoder(const std::filesystem::path& module_path, std::shared_ptr<WordPieceTokenizer> tokenizer,
                         config::Pooling pooling, int max_length);
  torch::Tensor encode(const std::vector<std::string>& texts) override;
  int64_t dim() const override { return dim_; }
  bool frozen() const override { return true; }
  torch::Device device() const override { return device_; }
  std::string describe() const override;
  void to(torch::Device device, bool non_blocking = false) override;

 private:
  torch::jit::Module module_;
  std::string path_;
  config::Pooling pooling_;
  size_t num_inputs_ = 2;
  int64_t dim_ = 0;
  torch::Device device_{torch::kCPU};
};

/// Tokenizer settings for a model folder: text.lower_case / strip_accents, where "auto" reads
/// `tokenizer_config.json` (do_lower_case, strip_accents) beside the vocab, else HF's defaults.
WordPieceOptions tokenizer_options(const std::filesystem::path& folder, const config::TextConfig& cfg);

/// Builds the encoder `cfg` describes (on CPU; move it with ->to(device)). Throws naming the file
/// or config key when the folder is incomplete or the checkpoint does not match.
std::shared_ptr<TextEncoder> build_text_encoder(const config::TextConfig& cfg);

}  // namespace gtgm::text
