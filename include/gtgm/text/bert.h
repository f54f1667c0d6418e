#pragma once
/// BERT encoder (Devlin et al.; Hugging Face `BertModel` in eval mode): embeddings (word + position
/// + token type, LayerNorm), N post-LN transformer layers, optional tanh pooler. Submodule names
/// follow Hugging Face so checkpoint keys map one to one ("encoder.layer.3.attention.self.query.weight").
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "gtgm/config/text_config.h"
#include "gtgm/io/safetensors.h"

namespace gtgm::text {

/// The fields of a Hugging Face BERT `config.json` that the forward pass needs.
struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";  ///< gelu (erf), gelu_new / gelu_pytorch_tanh (tanh approx.), relu, silu
  std::string position_embedding_type = "absolute";

  /// Reads `config.json`; a missing key keeps the default (as HF); wrong types, non-positive sizes,
  /// hidden_size not divisible by num_attention_heads, an unsupported activation or a non-absolute
  /// position embedding throw, naming the file and key.
  static BertConfig from_json_file(const std::filesystem::path& path);
  /// Throws when the sizes are inconsistent (`where` prefixes the message).
  void validate(const std::string& where) const;
};

/// Multi-head self-attention projections ("attention.self.{query,key,value}").
class BertSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit BertSelfAttentionImpl(const BertConfig& cfg);
  /// x [N, L, H], additive_mask [N, 1, 1, L] -> context [N, L, H]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};

 private:
  int64_t heads_, head_dim_;
};
TORCH_MODULE(BertSelfAttention);

/// dense -> dropout-free residual add -> LayerNorm ("attention.output" and "output").
class BertDenseNormImpl : public torch::nn::Module {
 public:
  BertDenseNormImpl(int64_t in, const BertConfig& cfg);
  /// x [N, L, in], residual [N, L, H] -> [N, L, H]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // HF's name, kept for checkpoint keys
};
TORCH_MODULE(BertDenseNorm);

/// "attention": self-attention + output projection.
class BertAttentionImpl : public torch::nn::Module {
 public:
  explicit BertAttentionImpl(const BertConfig& cfg);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  BertSelfAttention self{nullptr};
  BertDenseNorm output{nullptr};
};
TORCH_MODULE(BertAttention);

/// One transformer layer ("encoder.layer.i").
class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& cfg);
  /// x [N, L, H] -> [N, L, H]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  BertAttention attention{nullptr};
  torch::nn::Linear intermediate_dense{nullptr};  // registered as "intermediate.dense"
  BertDenseNorm output{nullptr};

 private:
  std::string act_;
};
TORCH_MODULE(BertLayer);

/// The BERT encoder ("embeddings", "encoder.layer.*", "pooler.dense").
class BertModelImpl : public torch::nn::Module {
 public:
  explicit BertModelImpl(const BertConfig& cfg);
  /// input_ids, attention_mask, token_type_ids [N, L] int64 (token_type_ids may be undefined = 0)
  /// -> last hidden state [N, L, H]. L must be <= max_position_embeddings.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& token_type_ids = {});
  /// HF pooler_output: tanh(dense(hidden[:, 0])) -> [N, H].
  torch::Tensor pooler_output(const torch::Tensor& hidden);
  /// Freezes (requires_grad false) everything for k = -1, nothing for 0, or the embeddings and
  /// the first k layers. Throws when k > num_hidden_layers.
  void freeze(int k);
  const BertConfig& config() const { return cfg_; }

  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm embeddings_norm{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::Linear pooler_dense{nullptr};

 private:
  BertConfig cfg_;
};
TORCH_MODULE(BertModel);

/// Pools a hidden state [N, L, H] to [N, H]: "cls" (position 0), "mean" (over attention_mask),
/// "pooler" (model.pooler_output).
torch::Tensor pool_hidden(BertModelImpl& model, const torch::Tensor& hidden, const torch::Tensor& attention_mask,
                          config::Pooling pooling);

/// Loads Hugging Face weights into `model`: `weights` is a model.safetensors or pytorch_model.bin
/// (torch.save zip or legacy format). Keys are mapped as HF does: a "bert." prefix is removed,
/// TF-converted "LayerNorm.gamma/beta" become "weight/bias", "position_ids" buffers are ignored.
/// Missing encoder weights throw (listing them); a missing pooler is allowed unless
/// `need_pooler`; keys the model does not have (pretraining heads "cls.*") are returned as
/// unexpected and logged.
io::LoadReport load_bert_weights(BertModelImpl& model, const std::filesystem::path& weights, bool need_pooler);

/// Reads a pytorch_model.bin (a pickled state dict) into named tensors (CPU).
io::NamedTensors load_torch_state_dict(const std::filesystem::path& path);

}  // namespace gtgm::text
