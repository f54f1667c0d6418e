#pragma once
/// A minimal client of the OpenAI-compatible chat-completions API (served by vLLM, llama.cpp's
/// server, Ollama, ...): one user message holding the prompt and the slice as a base64 PNG data
/// URL. Timeouts, retries with exponential backoff on timeouts / connection errors / 408 / 429 / 5xx /
/// malformed replies (honouring Retry-After), and clear errors otherwise. The API key comes from
/// an environment variable and never appears in messages or logs: it is redacted from reply bodies
/// too, which some gateways fill with the request's headers. A reply body is read up to
/// max_reply_bytes (text.captioner.max_reply_bytes, 1 MiB; an endless reply is cut off there and
/// retried, not buffered), and a caption longer than max_caption_chars (8192) is a malformed reply.
#include <cstddef>
#include <memory>
#include <string>

#include "gtgm/config/text_config.h"
#include "gtgm/text/captioner.h"

namespace gtgm::text {

/// The most of a reply body that is read by default (1 MiB); more is an error of that attempt.
inline constexpr size_t kMaxReplyBytes = size_t{1} << 20;
/// The longest caption accepted by default (bytes of UTF-8; a caption is a sentence or two, and
/// BERT reads 512 tokens of it at most).
inline constexpr size_t kMaxCaptionChars = 8192;

/// Appends `n` bytes to `body` unless that would make it longer than `limit`: then leaves it as
/// it is and returns false (the reader stops). `body` never holds more than `limit` bytes.
bool append_bounded(std::string& body, const char* data, size_t n, size_t limit);

struct ChatClientOptions {
  std::string endpoint;  ///< full URL, e.g. http://127.0.0.1:8000/v1/chat/completions
  std::string model;
  std::string prompt;
  std::string api_key;  ///< "" = no Authorization header
  int max_tokens = 96;
  double temperature = 0.0;
  double timeout_s = 60.0;
  int retries = 4;
  double backoff_s = 1.0;
  double max_backoff_s = 60.0;
  size_t max_reply_bytes = kMaxReplyBytes;    ///< the most of a reply body read
  size_t max_caption_chars = kMaxCaptionChars;  ///< the longest caption accepted
};

/// Options from the config; reads the key from the environment variable `cfg.api_key_env`
/// (an unset variable is an error naming the variable, never its value).
ChatClientOptions chat_options_from_config(const config::CaptionerConfig& cfg);

class ChatClient {
 public:
  explicit ChatClient(ChatClientOptions options);
  /// The model's reply text for the prompt + this PNG image. Thread-safe (one connection per call).
  std::string describe_png(const std::string& png_bytes) const;
  /// The JSON request body (tests inspect it).
  std::string request_body(const std::string& png_bytes) const;
  /// Reply text of a chat-completions response body; throws "malformed reply" errors (also for a
  /// caption longer than `max_caption_chars`).
  static std::string parse_reply(const std::string& body, size_t max_caption_chars = kMaxCaptionChars);
  const ChatClientOptions& options() const { return options_; }

 private:
  ChatClientOptions options_;
};

/// Captioner over a ChatClient: renders nothing itself, sends SliceView::image.
class OpenAICaptioner : public Captioner {
 public:
  OpenAICaptioner(ChatClientOptions options, int concurrency);
  std::string caption(const SliceView& view) override;
  std::string generator() const override;
  std::string prompt_hash() const override;
  int concurrency() const override { return concurrency_; }

 private:
  ChatClient client_;
  int concurrency_;
};

/// Whether this build has libcurl (otherwise the openai captioner throws when built).
bool have_http_client();

}  // namespace gtgm::text
