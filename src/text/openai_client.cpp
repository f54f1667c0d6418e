#include "gtgm/text/openai_client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/strings.h"
#include "gtgm/io/png.h"

#ifdef GTGM_HAVE_CURL
#include <curl/curl.h>
#endif

using json = nlohmann::json;

namespace gtgm::text {
namespace {

std::string snippet(const std::string& s, size_t n = 200) {
  std::string out = s.substr(0, n);
  std::replace(out.begin(), out.end(), '\n', ' ');
  return s.size() > n ? out + "..." : out;
}

// Every occurrence of `secret` in `text` replaced by "[redacted]": some gateways echo the request's
// headers in their error bodies, and those bodies end up in errors and warnings.
std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
    text.replace(at, secret.size(), "[redacted]");
  return text;
}

#ifdef GTGM_HAVE_CURL
struct HttpReply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  bool too_large = false;  ///< the body passed limit; reading stopped there
  size_t limit = kMaxReplyBytes;
  double retry_after_s = -1;
  std::string curl_error;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<HttpReply*>(user);
  if (!append_bounded(r->body, data, size * n, r->limit)) {
    r->too_large = true;
    return 0;  // curl stops with CURLE_WRITE_ERROR and closes the connection
  }
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  if (core::starts_with(core::lower(line), "retry-after:")) {
    try {
      static_cast<HttpReply*>(user)->retry_after_s = std::stod(line.substr(12));
    } catch (const std::exception&) {
      // An HTTP-date Retry-After: fall back to our own backoff.
    }
  }
  return size * n;
}

HttpReply post_json(const ChatClientOptions& o, const std::string& body) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  HttpReply r;
  r.limit = o.max_reply_bytes;
  CURL* curl = curl_easy_init();
  GTGM_CHECK(curl != nullptr, "libcurl: cannot create a handle");
  char err[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  std::string auth;
  if (!o.api_key.empty()) {
    auth = "Authorization: Bearer " + o.api_key;
    headers = curl_slist_append(headers, auth.c_str());
  }
  const long timeout_ms = static_cast<long>(std::ceil(o.timeout_s * 1000.0));
  curl_easy_setopt(curl, CURLOPT_URL, o.endpoint.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(timeout_ms, 10000));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // worker threads
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
  r.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  if (r.code != CURLE_OK) r.curl_error = err[0] ? err : curl_easy_strerror(r.code);
  curl_slist_free_all(headers);  // holds the key: freed right away
  curl_easy_cleanup(curl);
  return r;
}
#endif

}  // namespace

bool append_bounded(std::string& body, const char* data, size_t n, size_t limit) {
  if (n > limit || body.size() > limit - n) return false;
  if (body.capacity() < body.size() + n) {
    // Grow geometrically but never past the limit (std::string::reserve may round up to twice the
    // old capacity, so the new buffer is reserved fresh, where the request is exact).
    std::string grown;
    grown.reserve(std::min(limit, std::max(body.size() + n, 2 * body.capacity())));
    grown.append(body);
    body.swap(grown);
  }
  body.append(data, n);
  return true;
}

bool have_http_client() {
#ifdef GTGM_HAVE_CURL
  return true;
#else
  return false;
#endif
}

ChatClientOptions chat_options_from_config(const config::CaptionerConfig& cfg) {
  ChatClientOptions o;
  o.endpoint = cfg.endpoint;
  o.model = cfg.model;
  o.prompt = cfg.prompt;
  o.max_tokens = cfg.max_tokens;
  o.temperature = cfg.temperature;
  o.timeout_s = cfg.timeout_s;
  o.retries = cfg.retries;
  o.backoff_s = cfg.backoff_s;
  o.max_reply_bytes = static_cast<size_t>(cfg.max_reply_bytes);
  o.max_caption_chars = static_cast<size_t>(cfg.max_caption_chars);
  if (!cfg.api_key_env.empty()) {
    const char* key = std::getenv(cfg.api_key_env.c_str());
    GTGM_CHECK(key != nullptr && *key != '\0',
               "text.captioner.api_key_env names the environment variable {}, which is not set", cfg.api_key_env);
    o.api_key = key;
  }
  return o;
}

ChatClient::ChatClient(ChatClientOptions options) : options_(std::move(options)) {
  GTGM_CHECK(have_http_client(),
             "the openai captioner needs libcurl, and this gtgm was built without it "
             "(install libcurl4-gnutls-dev or libcurl4-openssl-dev and rebuild)");
  const auto& e = options_.endpoint;
  GTGM_CHECK(e.rfind("http://", 0) == 0 || e.rfind("https://", 0) == 0,
             "text.captioner.endpoint '{}' must be an http:// or https:// URL of the chat-completions endpoint", e);
  GTGM_CHECK(!options_.model.empty(), "text.captioner.model is empty: name the model the server serves");
  GTGM_CHECK(!options_.prompt.empty(), "text.captioner.prompt is empty");
  GTGM_CHECK(options_.timeout_s > 0, "text.captioner.timeout_s must be > 0, got {}", options_.timeout_s);
}

std::string ChatClient::request_body(const std::string& png) const {
  json content = json::array();
  content.push_back({{"type", "text"}, {"text", options_.prompt}});
  content.push_back(
      {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64," + io::base64_encode(png)}}}});
  json body = {{"model", options_.model},
               {"messages", json::array({{{"role", "user"}, {"content", content}}})},
               {"max_tokens", options_.max_tokens},
               {"temperature", options_.temperature},
               {"stream", false}};
  return body.dump();
}

std::string ChatClient::parse_reply(const std::string& body, size_t max_caption_chars) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception&) {
    GTGM_THROW("malformed reply (not JSON): {}", snippet(body));
  }
  GTGM_CHECK(j.is_object() && j.contains("choices") && j["choices"].is_array() && !j["choices"].empty(),
             "malformed reply (no choices): {}", snippet(body));
  const auto& msg = j["choices"][0].value("message", json::object());
  GTGM_CHECK(msg.is_object() && msg.contains("content"), "malformed reply (no message content): {}", snippet(body));
  std::string text;
  if (msg["content"].is_string()) {
    text = msg["content"].get<std::string>();
  } else if (msg["content"].is_array()) {  // content parts
    for (const auto& part : msg["content"])
      if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string())
        text += part["text"].get<std::string>();
  }
  const auto b = text.find_first_not_of(" \t\r\n");
  GTGM_CHECK(b != std::string::npos, "malformed reply (empty caption): {}", snippet(body));
  GTGM_CHECK(text.size() <= max_caption_chars,
             "malformed reply (a caption of {} characters; at most {}, text.captioner.max_caption_chars): {}",
             text.size(), max_caption_chars, snippet(text));
  return text.substr(b, text.find_last_not_of(" \t\r\n") - b + 1);
}

std::string ChatClient::describe_png(const std::string& png) const {
#ifdef GTGM_HAVE_CURL
  const std::string body = request_body(png);
  std::string last_error;
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    auto r = post_json(options_, body);
    r.body = redact(std::move(r.body), options_.api_key);
    r.curl_error = redact(std::move(r.curl_error), options_.api_key);
    double wait = options_.backoff_s * std::pow(2.0, attempt);
    if (r.too_large) {
      last_error = fmt::format("reply larger than {} bytes (stopped reading; text.captioner.max_reply_bytes): {}",
                               options_.max_reply_bytes, snippet(r.body));
    } else if (r.code != CURLE_OK) {
      last_error = r.code == CURLE_OPERATION_TIMEDOUT ? fmt::format("timed out after {} s", options_.timeout_s)
                                                      : fmt::format("connection error: {}", r.curl_error);
    } else if (r.status == 200) {
      try {
        return parse_reply(r.body, options_.max_caption_chars);
      } catch (const Error& e) {
        last_error = e.message();
      }
    } else if (r.status == 408 || r.status == 429 || r.status >= 500) {
      last_error = fmt::format("HTTP {}: {}", r.status, snippet(r.body));
      if (r.retry_after_s >= 0) wait = r.retry_after_s;
    } else {
      GTGM_THROW("{}: HTTP {} (not retried{}): {}", options_.endpoint, r.status,
                 r.status == 401 || r.status == 403 ? "; check the API key variable text.captioner.api_key_env" : "",
                 snippet(r.body));
    }
    if (attempt == options_.retries) break;
    wait = std::min(wait, options_.max_backoff_s);
    GTGM_WARN("{}: {} (attempt {} of {}); retrying in {:.1f} s", options_.endpoint, last_error, attempt + 1,
              options_.retries + 1, wait);
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
  GTGM_THROW("{}: giving up after {} attempts: {}", options_.endpoint, options_.retries + 1, last_error);
#else
  GTGM_THROW("the openai captioner needs libcurl (this gtgm was built without it)");
#endif
}

OpenAICaptioner::OpenAICaptioner(ChatClientOptions options, int concurrency)
    : client_(std::move(options)), concurrency_(concurrency) {
  GTGM_CHECK(concurrency_ >= 1, "text.captioner.concurrency must be >= 1, got {}", concurrency_);
}

std::string OpenAICaptioner::caption(const SliceView& view) {
  GTGM_CHECK(view.image.defined(), "openai captioner: view of '{}' has no rendered image", view.volume_id);
  return client_.describe_png(io::encode_png(view.image));
}

std::string OpenAICaptioner::generator() const { return "openai:" + client_.options().model; }

std::string OpenAICaptioner::prompt_hash() const { return hash_hex(client_.options().prompt); }

std::unique_ptr<Captioner> make_captioner(const config::CaptionerConfig& cfg) {
  if (cfg.type == config::CaptionerType::Template) return std::make_unique<TemplateCaptioner>();
  return std::make_unique<OpenAICaptioner>(chat_options_from_config(cfg), cfg.concurrency);
}

}  // namespace gtgm::text
