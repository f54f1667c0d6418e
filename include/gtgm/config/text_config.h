#pragma once
#include <string>
#include <vector>

#include "gtgm/config/enum_names.h"
#include "gtgm/config/schema.h"

namespace gtgm::config {

/// `text.captioner.type`.
enum class CaptionerType { Template, OpenAI };
template <>
struct EnumNames<CaptionerType> {
  static constexpr std::pair<CaptionerType, const char*> items[] = {{CaptionerType::Template, "template"},
                                                                    {CaptionerType::OpenAI, "openai"}};
};

/// `text.captioner.modality`.
enum class CaptionModality { Auto, CT, MRI, EM };
template <>
struct EnumNames<CaptionModality> {
  static constexpr std::pair<CaptionModality, const char*> items[] = {{CaptionModality::Auto, "auto"},
                                                                      {CaptionModality::CT, "CT"},
                                                                      {CaptionModality::MRI, "MRI"},
                                                                      {CaptionModality::EM, "EM"}};
};

/// `text.captioner.window`: slice intensity window.
enum class CaptionWindow { Auto, Fixed, MinMax };
template <>
struct EnumNames<CaptionWindow> {
  static constexpr std::pair<CaptionWindow, const char*> items[] = {
      {CaptionWindow::Auto, "auto"}, {CaptionWindow::Fixed, "fixed"}, {CaptionWindow::MinMax, "minmax"}};
};

/// `text.type`.
enum class TextEncoderType { BERT, TorchScript };
template <>
struct EnumNames<TextEncoderType> {
  static constexpr std::pair<TextEncoderType, const char*> items[] = {{TextEncoderType::BERT, "bert"},
                                                                      {TextEncoderType::TorchScript, "torchscript"}};
};

/// `text.pooling`: token features -> sentence embedding.
enum class Pooling { CLS, Mean, Pooler };
template <>
struct EnumNames<Pooling> {
  static constexpr std::pair<Pooling, const char*> items[] = {
      {Pooling::CLS, "cls"}, {Pooling::Mean, "mean"}, {Pooling::Pooler, "pooler"}};
};

/// `text.caption_prefix`: what is put before each caption's text.
enum class CaptionPrefix { Volume, None };
template <>
struct EnumNames<CaptionPrefix> {
  static constexpr std::pair<CaptionPrefix, const char*> items[] = {{CaptionPrefix::Volume, "volume"},
                                                                    {CaptionPrefix::None, "none"}};
};

/// `text.caption_anchor`: the crop point a caption is looked up by.
enum class CaptionAnchor { Centre, Corner };
template <>
struct EnumNames<CaptionAnchor> {
  static constexpr std::pair<CaptionAnchor, const char*> items[] = {{CaptionAnchor::Centre, "centre"},
                                                                    {CaptionAnchor::Corner, "corner"}};
};

/// auto (decided from the model folder), true or false.
enum class AutoBool { Auto, True, False };
template <>
struct EnumNames<AutoBool> {
  static constexpr std::pair<AutoBool, const char*> items[] = {
      {AutoBool::Auto, "auto"}, {AutoBool::True, "true"}, {AutoBool::False, "false"}};
};

/// `text.captioner:` how `gtgm caption` describes slices of a volume.
struct CaptionerConfig {
  CaptionerType type = CaptionerType::Template;
  std::vector<int> step = {10, 80, 80};
  int slice_size = 224;
  int patch = 160;
  CaptionModality modality = CaptionModality::Auto;
  double window_low = -160.0;
  double window_high = 240.0;
  CaptionWindow window = CaptionWindow::Auto;
  std::string endpoint = "http://127.0.0.1:8000/v1/chat/completions";
  std::string model = "";
  std::string api_key_env = "";
  std::string prompt =
      "Describe this medical image slice in one or two short sentences: modality, body region, visible "
      "structures and their appearance. Do not guess a diagnosis.";
  int max_tokens = 96;
  double temperature = 0.0;
  double timeout_s = 60.0;
  int retries = 4;
  double backoff_s = 1.0;
  int concurrency = 4;
  int64_t max_reply_bytes = int64_t{1} << 20;
  int max_caption_chars = 8192;

  template <class V>
  void visit(V& v) {
    v.field("type", type,
            "Captioner: template (describes what the image shows, no model) or openai "
            "(an OpenAI-compatible chat-completions server: vLLM, llama.cpp server, Ollama).");
    v.field("step", step, "Grid step between caption positions in voxels (z, y, x); reference code: 10, 80, 80.",
            ge(1).length(3));
    v.field("slice_size", slice_size, "Rendered slice side in pixels (the axial slice is resized to this).", ge(8));
    v.field("patch", patch, "In-plane patch side in voxels around each position (0 = the whole slice).", ge(0));
    v.field("modality", modality,
            "Template captioner: auto (CT when values look like HU, EM for 8-bit strongly "
            "anisotropic volumes, else MRI) or a fixed CT, MRI or EM.");
    v.field("window", window,
            "Intensity window of rendered slices: auto (CT window when values look like HU, "
            "else 0.5/99.5 percentiles), fixed (window_low..window_high) or minmax.");
    v.field("window_low", window_low, "Lower bound of the fixed window (CT: HU).");
    v.field("window_high", window_high, "Upper bound of the fixed window (CT: HU).");
    v.field("endpoint", endpoint, "openai: full URL of the chat-completions endpoint.");
    v.field("model", model, "openai: model name sent in the request (as the server lists it).");
    v.field("api_key_env", api_key_env,
            "openai: name of the environment variable holding the API key (empty = no key). The key is never logged.");
    v.field("prompt", prompt, "openai: the instruction sent with each slice; its hash is stored with each caption.");
    v.field("max_tokens", max_tokens, "openai: reply length limit.", ge(1));
    v.field("temperature", temperature, "openai: sampling temperature.", ge(0));
    v.field("timeout_s", timeout_s, "openai: per-request timeout in seconds.", gt(0));
    v.field("retries", retries, "openai: retries after a timeout, 429 or 5xx (exponential backoff).", ge(0));
    v.field("backoff_s", backoff_s, "openai: first retry delay in seconds (doubles each retry).", ge(0));
    v.field("concurrency", concurrency, "openai: requests in flight at once.", ge(1));
    v.field("max_reply_bytes", max_reply_bytes,
            "openai: the most of a reply body read (bytes); a longer or endless reply is cut off there and that "
            "attempt fails (\"reply larger than ...\"), so memory stays bounded whatever the server sends.",
            ge(1024));
    v.field("max_caption_chars", max_caption_chars,
            "openai: the longest caption accepted (bytes of UTF-8 text); a longer one is a malformed reply and "
            "is retried, never stored.",
            ge(16));
  }
};

/// `text:` the frozen text encoder and the caption / embedding caches.
struct TextConfig {
  TextEncoderType type = TextEncoderType::BERT;
  std::string model_dir = "";
  std::string weights = "";
  std::string vocab = "";
  int max_length = 128;
  int freeze_layers = -1;
  Pooling pooling = Pooling::CLS;
  AutoBool lower_case = AutoBool::Auto;
  AutoBool strip_accents = AutoBool::Auto;
  int batch_size = 64;
  std::string device = "";
  std::string caption_cache = "";
  CaptionPrefix caption_prefix = CaptionPrefix::Volume;
  CaptionAnchor caption_anchor = CaptionAnchor::Centre;
  bool caption_shuffle = false;
  bool caption_random = false;
  std::string embedding_cache = "";
  CaptionerConfig captioner;

  template <class V>
  void visit(V& v) {
    v.field("type", type, "Text encoder: bert (Hugging Face folder) or torchscript (exported module).");
    v.field("model_dir", model_dir,
            "bert: Hugging Face folder (config.json, vocab.txt, model.safetensors or pytorch_model.bin); "
            "torchscript: the .pt file (forward(input_ids, attention_mask) -> [N, L, H] or [N, H]).");
    v.field("weights", weights,
            "bert: weight file inside or outside model_dir; empty = model.safetensors, else pytorch_model.bin.");
    v.field("vocab", vocab, "vocab.txt; empty = vocab.txt beside the model (model_dir or the .pt's folder).");
    v.field("max_length", max_length,
            "Token limit incl. [CLS]/[SEP] (paper: 128); capped by the model's max_position_embeddings.", ge(2));
    v.field("freeze_layers", freeze_layers,
            "Frozen part: -1 = everything (paper figure), 0 = nothing, k = embeddings + first k layers "
            "(reference code: 6).",
            ge(-1));
    v.field("pooling", pooling,
            "Sentence embedding: cls (last hidden state of [CLS], paper), mean (masked mean) "
            "or pooler (tanh dense on [CLS], HF pooler_output).");
    v.field("lower_case", lower_case,
            "Lower-case text before WordPiece: auto = tokenizer_config.json's do_lower_case, else true (HF default).");
    v.field("strip_accents", strip_accents, "Strip accents: auto = tokenizer_config.json, else same as lower_case.");
    v.field("batch_size", batch_size, "Captions per encoder call in `gtgm embed-text`.", ge(1));
    v.field("device", device, "Device of the text encoder in `gtgm embed-text`; empty = run.device.");
    v.field("caption_cache", caption_cache, "Caption cache (JSONL) produced by `gtgm caption`.");
    v.field("caption_prefix", caption_prefix,
            "Text the encoder sees: volume = \"<volume id>, <caption>\" (the reference's base_name + ', ' + "
            "caption, pretrain/dataloader/data_provider_pretraining_caption_match.py:303) or none (the caption "
            "alone). `gtgm embed-text` and pretraining must agree (the embedding cache checks it).");
    v.field("caption_anchor", caption_anchor,
            "Crop point whose nearest caption is used: centre (gtgm's captions describe windows centred on their "
            "positions) or corner (the crop's first voxel, as the reference's find_nearest_neighbor([random_z, "
            "random_y, random_x]); for imported reference captions).");
    v.field("caption_shuffle", caption_shuffle,
            "Ablation: each volume is paired with the captions of another volume (a random cyclic order of the "
            "case ids, seeded by run.seed), so the text says nothing about its crop (does the text matter?).");
    v.field("caption_random", caption_random,
            "Ablation: each crop is paired with a caption row of the whole cache chosen by a hash of (run.seed, "
            "volume, anchor voxel), not the caption of its place; unlike caption_shuffle (whose partner volume "
            "may look alike at the same place) the text says nothing about what the crop shows.");
    v.field("embedding_cache", embedding_cache,
            "Text-embedding cache (safetensors) from `gtgm embed-text`; when set, the encoder never runs in "
            "training (needs freeze_layers: -1).");
    v.section("captioner", captioner, "How `gtgm caption` describes slices.");
  }
};

}  // namespace gtgm::config
