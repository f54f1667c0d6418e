// Loading Hugging Face BERT weights (model.safetensors / pytorch_model.bin) into BertModel.
#include <fstream>
#include <iterator>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/strings.h"
#include "gtgm/text/bert.h"

namespace fs = std::filesystem;

namespace gtgm::text {
namespace {

/// HF's key renames for BERT: strip the base-model prefix, TF-era LayerNorm names.
std::string map_key(std::string key, bool strip_prefix) {
  if (strip_prefix && core::starts_with(key, "bert.")) key = key.substr(5);
  for (auto [from, to] : {std::pair<const char*, const char*>{"LayerNorm.gamma", "LayerNorm.weight"},
                          {"LayerNorm.beta", "LayerNorm.bias"}}) {
    const std::string f = from;
    if (core::ends_with(key, f)) key = key.substr(0, key.size() - f.size()) + to;
  }
  return key;
}

}  // namespace

io::NamedTensors load_torch_state_dict(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  GTGM_CHECK(in.good(), "cannot open {}", path.string());
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  GTGM_CHECK(!bytes.empty(), "{} is empty", path.string());
  torch::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    GTGM_THROW("{}: cannot read a torch.save'd state dict: {}", path.string(),
               std::string(e.what()).substr(0, 300));
  }
  GTGM_CHECK(value.isGenericDict(), "{}: expected a state dict (a dict of tensors), found {}", path.string(),
             value.tagKind());
  io::NamedTensors out;
  for (const auto& entry : value.toGenericDict()) {
    GTGM_CHECK(entry.key().isString(), "{}: state dict key of type {} (expected strings)", path.string(),
               entry.key().tagKind());
    const std::string key = entry.key().toStringRef();
    if (!entry.value().isTensor()) {
      GTGM_WARN("{}: ignoring non-tensor entry '{}' ({})", path.string(), key, entry.value().tagKind());
      continue;
    }
    out.emplace_back(key, entry.value().toTensor());
  }
  return out;
}

io::LoadReport load_bert_weights(BertModelImpl& model, const fs::path& weights, bool need_pooler) {
  std::error_code ec;
  GTGM_CHECK(fs::is_regular_file(weights, ec), "BERT weights {} do not exist", weights.string());
  const bool is_safetensors = weights.extension() == ".safetensors";
  io::NamedTensors raw = is_safetensors ? io::load_safetensors(weights) : load_torch_state_dict(weights);
  bool any_prefixed = false;
  for (const auto& [k, t] : raw) any_prefixed = any_prefixed || core::starts_with(k, "bert.");
  io::NamedTensors state;
  state.reserve(raw.size());
  for (auto& [k, t] : raw) {
    // A BertForPreTraining checkpoint: encoder keys carry "bert."; "cls.*" heads stay as they are.
    const std::string key = map_key(k, any_prefixed);
    if (core::ends_with(key, "position_ids")) continue;  // buffer HF ignores on load too
    state.emplace_back(key, std::move(t));
  }
  auto report = io::load_state_into(model, state, /*strict=*/false, weights.string());
  std::vector<std::string> fatal;
  for (const auto& m : report.missing)
    if (need_pooler || !core::starts_with(m, "pooler.")) fatal.push_back(m);
  GTGM_CHECK(fatal.empty(), "{}: {} BERT weights are missing ({}); is this a BERT checkpoint matching config.json? {}",
             weights.string(), fatal.size(), fmt::join(fatal.begin(), fatal.begin() + std::min<size_t>(fatal.size(), 8), ", "),
             report.summary());
  if (!report.unexpected.empty()) {
    GTGM_INFO("{}: ignored {} weights the encoder does not use (e.g. pretraining heads): {}", weights.filename().string(),
              report.unexpected.size(),
              fmt::join(report.unexpected.begin(),
                        report.unexpected.begin() + std::min<size_t>(report.unexpected.size(), 6), ", "));
  }
  if (!report.missing.empty())
    GTGM_INFO("{}: no pooler weights (pooling is not 'pooler', so they are not needed)", weights.filename().string());
  return report;
}

}  // namespace gtgm::text
