#pragma once
#include <string>

#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `text:` the frozen text encoder and the caption / embedding caches.
struct TextConfig {
  std::string type = "bert";
  std::string model_dir = "";
  int max_length = 128;
  int freeze_layers = -1;
  std::string pooling = "cls";
  std::string caption_cache = "";
  std::string embedding_cache = "";

  template <class V>
  void visit(V& v) {
    v.field("type", type, "Text encoder: bert (Hugging Face folder) or torchscript (exported module).",
            one_of({"bert", "torchscript"}));
    v.field("model_dir", model_dir,
            "Hugging Face folder (config.json, vocab.txt, model.safetensors or pytorch_model.bin) or .pt file.");
    v.field("max_length", max_length, "Token limit incl. [CLS]/[SEP] (paper: 128).", ge(2));
    v.field("freeze_layers", freeze_layers, "Frozen encoder layers: -1 = all (paper figure), k = first k.", ge(-1));
    v.field("pooling", pooling, "Sentence embedding.", one_of({"cls", "mean"}));
    v.field("caption_cache", caption_cache, "Caption cache (JSONL) produced by `gtgm caption`.");
    v.field("embedding_cache", embedding_cache,
            "Text-embedding cache (safetensors) from `gtgm embed-text`; when set, the encoder never runs in training.");
  }
};

}  // namespace gtgm::config
