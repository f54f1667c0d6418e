#include "gtgm/text/bert.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/core/error.h"
#include "gtgm/core/strings.h"

namespace gtgm::text {
namespace {

/// A named, parameter-free container so checkpoint keys get HF's nesting ("embeddings.*").
std::shared_ptr<torch::nn::Module> holder(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>(name));
}

torch::Tensor activation(const torch::Tensor& x, const std::string& act) {
  if (act == "gelu") return torch::gelu(x);
  if (act == "gelu_new" || act == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (act == "relu") return torch::relu(x);
  return torch::silu(x);  // "silu" / "swish" (validated in BertConfig)
}

double lowest(torch::ScalarType t) {
  switch (t) {
    case torch::kHalf: return -65504.0;
    case torch::kBFloat16: return -3.3895313892515355e38;
    case torch::kDouble: return std::numeric_limits<double>::lowest();
    default: return std::numeric_limits<float>::lowest();
  }
}

}  // namespace

// ---- config -------------------------------------------------------------------------------------

BertConfig BertConfig::from_json_file(const std::filesystem::path& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(core::read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    GTGM_THROW("{}: not valid JSON ({})", path.string(), e.what());
  }
  GTGM_CHECK(j.is_object(), "{}: expected a JSON object", path.string());
  BertConfig c;
  auto get_int = [&](const char* key, int64_t& out) {
    if (!j.contains(key)) return;
    GTGM_CHECK(j[key].is_number_integer(), "{}: '{}' must be an integer, got {}", path.string(), key, j[key].dump());
    out = j[key].get<int64_t>();
  };
  get_int("vocab_size", c.vocab_size);
  get_int("hidden_size", c.hidden_size);
  get_int("num_hidden_layers", c.num_hidden_layers);
  get_int("num_attention_heads", c.num_attention_heads);
  get_int("intermediate_size", c.intermediate_size);
  get_int("max_position_embeddings", c.max_position_embeddings);
  get_int("type_vocab_size", c.type_vocab_size);
  if (j.contains("layer_norm_eps")) {
    GTGM_CHECK(j["layer_norm_eps"].is_number(), "{}: 'layer_norm_eps' must be a number, got {}", path.string(),
               j["layer_norm_eps"].dump());
    c.layer_norm_eps = j["layer_norm_eps"].get<double>();
  }
  for (auto [key, out] : {std::pair<const char*, std::string*>{"hidden_act", &c.hidden_act},
                          {"position_embedding_type", &c.position_embedding_type}}) {
    if (!j.contains(key)) continue;
    GTGM_CHECK(j[key].is_string(), "{}: '{}' must be a string, got {}", path.string(), key, j[key].dump());
    *out = j[key].get<std::string>();
  }
  if (j.contains("model_type") && j["model_type"].is_string()) {
    const auto t = j["model_type"].get<std::string>();
    GTGM_CHECK(t == "bert", "{}: model_type '{}' is not a BERT model (expected \"bert\"; export other text models "
               "with TorchScript and use text.type: torchscript)", path.string(), t);
  }
  c.validate(path.string());
  return c;
}

void BertConfig::validate(const std::string& where) const {
  for (auto [name, v] : {std::pair<const char*, int64_t>{"vocab_size", vocab_size}, {"hidden_size", hidden_size},
                         {"num_hidden_layers", num_hidden_layers}, {"num_attention_heads", num_attention_heads},
                         {"intermediate_size", intermediate_size}, {"max_position_embeddings", max_position_embeddings},
                         {"type_vocab_size", type_vocab_size}}) {
    GTGM_CHECK(v > 0, "{}: '{}' must be > 0, got {}", where, name, v);
  }
  GTGM_CHECK(hidden_size % num_attention_heads == 0,
             "{}: hidden_size {} is not divisible by num_attention_heads {}", where, hidden_size, num_attention_heads);
  GTGM_CHECK(layer_norm_eps > 0, "{}: 'layer_norm_eps' must be > 0, got {}", where, layer_norm_eps);
  const bool act_ok = hidden_act == "gelu" || hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh" ||
                      hidden_act == "relu" || hidden_act == "silu" || hidden_act == "swish";
  GTGM_CHECK(act_ok, "{}: hidden_act '{}' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu)", where,
             hidden_act);
  GTGM_CHECK(position_embedding_type == "absolute",
             "{}: position_embedding_type '{}' is not supported (only \"absolute\")", where, position_embedding_type);
}

// ---- modules ------------------------------------------------------------------------------------

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& cfg)
    : heads_(cfg.num_attention_heads), head_dim_(cfg.hidden_size / cfg.num_attention_heads) {
  query = register_module("query", torch::nn::Linear(cfg.hidden_size, cfg.hidden_size));
  key = register_module("key", torch::nn::Linear(cfg.hidden_size, cfg.hidden_size));
  value = register_module("value", torch::nn::Linear(cfg.hidden_size, cfg.hidden_size));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const int64_t n = x.size(0), l = x.size(1);
  auto split = [&](const torch::Tensor& t) { return t.view({n, l, heads_, head_dim_}).permute({0, 2, 1, 3}); };
  const auto q = split(query->forward(x));  // [N, h, L, d]
  const auto k = split(key->forward(x));
  const auto v = split(value->forward(x));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_dim_));  // [N, h, L, L]
  scores = scores + additive_mask.to(scores.scalar_type());
  const auto ctx = torch::matmul(torch::softmax(scores, -1), v);  // [N, h, L, d]
  return ctx.permute({0, 2, 1, 3}).reshape({n, l, heads_ * head_dim_});
}

BertDenseNormImpl::BertDenseNormImpl(int64_t in, const BertConfig& cfg) {
  dense = register_module("dense", torch::nn::Linear(in, cfg.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hidden_size}).eps(cfg.layer_norm_eps)));
}

torch::Tensor BertDenseNormImpl::forward(const torch::Tensor& x, const torch::Tensor& residual) {
  return LayerNorm->forward(dense->forward(x) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& cfg) {
  self = register_module("self", BertSelfAttention(cfg));
  output = register_module("output", BertDenseNorm(cfg.hidden_size, cfg));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  return output->forward(self->forward(x, additive_mask), x);
}

BertLayerImpl::BertLayerImpl(const BertConfig& cfg) : act_(cfg.hidden_act) {
  attention = register_module("attention", BertAttention(cfg));
  intermediate_dense =
      holder(*this, "intermediate")->register_module("dense", torch::nn::Linear(cfg.hidden_size, cfg.intermediate_size));
  output = register_module("output", BertDenseNorm(cfg.intermediate_size, cfg));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const auto a = attention->forward(x, additive_mask);                // [N, L, H]
  const auto inter = activation(intermediate_dense->forward(a), act_);  // [N, L, I]
  return output->forward(inter, a);
}

BertModelImpl::BertModelImpl(const BertConfig& cfg) : cfg_(cfg) {
  cfg_.validate("BERT config");
  auto emb = holder(*this, "embeddings");
  word_embeddings = emb->register_module("word_embeddings", torch::nn::Embedding(cfg.vocab_size, cfg.hidden_size));
  position_embeddings =
      emb->register_module("position_embeddings", torch::nn::Embedding(cfg.max_position_embeddings, cfg.hidden_size));
  token_type_embeddings =
      emb->register_module("token_type_embeddings", torch::nn::Embedding(cfg.type_vocab_size, cfg.hidden_size));
  embeddings_norm = emb->register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.hidden_size}).eps(cfg.layer_norm_eps)));
  layers = torch::nn::ModuleList();
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) layers->push_back(BertLayer(cfg));
  holder(*this, "encoder")->register_module("layer", layers);
  pooler_dense = holder(*this, "pooler")->register_module("dense", torch::nn::Linear(cfg.hidden_size, cfg.hidden_size));
}

torch::Tensor BertModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                     const torch::Tensor& token_type_ids) {
  GTGM_CHECK(input_ids.dim() == 2, "BERT input_ids must be [N, L], got {}", core::shape_str(input_ids.sizes()));
  GTGM_CHECK(attention_mask.sizes() == input_ids.sizes(), "BERT attention_mask {} must match input_ids {}",
             core::shape_str(attention_mask.sizes()), core::shape_str(input_ids.sizes()));
  const int64_t l = input_ids.size(1);
  GTGM_CHECK(l <= cfg_.max_position_embeddings, "BERT input of {} tokens exceeds max_position_embeddings {}", l,
             cfg_.max_position_embeddings);
  const auto device = word_embeddings->weight.device();
  const auto ids = input_ids.to(device, torch::kLong);
  const auto types = token_type_ids.defined() ? token_type_ids.to(device, torch::kLong) : torch::zeros_like(ids);
  const auto positions = torch::arange(l, torch::TensorOptions().dtype(torch::kLong).device(device));
  auto x = word_embeddings->forward(ids) + position_embeddings->forward(positions).unsqueeze(0) +
           token_type_embeddings->forward(types);  // [N, L, H]
  x = embeddings_norm->forward(x);
  // Additive mask as HF: 0 where attended, the dtype's lowest value where padded -> [N, 1, 1, L].
  const auto keep = attention_mask.to(device).unsqueeze(1).unsqueeze(2);
  const auto additive = torch::zeros(keep.sizes(), x.options()).masked_fill(keep == 0, lowest(x.scalar_type()));
  for (const auto& m : *layers) x = m->as<BertLayer>()->forward(x, additive);
  return x;
}

torch::Tensor BertModelImpl::pooler_output(const torch::Tensor& hidden) {
  return torch::tanh(pooler_dense->forward(hidden.select(1, 0)));
}

void BertModelImpl::freeze(int k) {
  GTGM_CHECK(k >= -1 && k <= cfg_.num_hidden_layers,
             "freeze_layers {} is out of range: -1 (all), 0 (none) or up to num_hidden_layers = {}", k,
             cfg_.num_hidden_layers);
  for (auto& p : parameters()) p.set_requires_grad(k != -1);
  if (k <= 0) return;
  for (auto& p : named_children()["embeddings"]->parameters()) p.set_requires_grad(false);
  for (int i = 0; i < k; ++i)
    for (auto& p : (*layers)[i]->parameters()) p.set_requires_grad(false);
}

torch::Tensor pool_hidden(BertModelImpl& model, const torch::Tensor& hidden, const torch::Tensor& attention_mask,
                          config::Pooling pooling) {
  if (pooling == config::Pooling::CLS) return hidden.select(1, 0);  // [N, H]
  if (pooling == config::Pooling::Pooler) return model.pooler_output(hidden);
  const auto m = attention_mask.to(hidden.device(), hidden.scalar_type()).unsqueeze(-1);  // [N, L, 1]
  return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9);
}

}  // namespace gtgm::text
