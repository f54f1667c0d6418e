// The OpenAI-compatible chat-completions client against a local fake server: success, retries on
// 429/500, timeouts, malformed replies, non-retried errors and key handling.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "fake_http_server.h"
#include "gtgm/io/png.h"
#include "gtgm/text/openai_client.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;
using test::FakeHttpServer;
using test::FakeResponse;

namespace {

text::ChatClientOptions options_for(const FakeHttpServer& s) {
  text::ChatClientOptions o;
  o.endpoint = s.url();
  o.model = "tiny-vlm";
  o.prompt = "Describe the slice.";
  o.timeout_s = 60.0;  // no test but the timeout ones depends on how fast the machine is
  o.retries = 2;
  o.backoff_s = 0.01;
  return o;
}

const std::string kPng = io::encode_png(torch::full({4, 4}, 128, torch::kUInt8));

}  // namespace

#define GTGM_REQUIRE_CURL() \
  if (!text::have_http_client()) GTEST_SKIP() << "built without libcurl"

TEST(OpenAIClient, SendsPromptImageAndKeyAndReadsReply) {
  GTGM_REQUIRE_CURL();
  FakeHttpServer server([](int, const test::FakeRequest&) {
    return FakeResponse{200, test::chat_reply("  A CT slice.\n")};
  });
  auto o = options_for(server);
  o.api_key = "sk-secret-123";
  const text::ChatClient client(o);
  EXPECT_EQ(client.describe_png(kPng), "A CT slice.");
  ASSERT_EQ(server.count(), 1);
  const auto req = server.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/v1/chat/completions");
  EXPECT_NE(req.headers.find("Authorization: Bearer sk-secret-123"), std::string::npos);
  const auto body = nlohmann::json::parse(req.body);
  EXPECT_EQ(body["model"], "tiny-vlm");
  EXPECT_EQ(body["messages"][0]["content"][0]["text"], "Describe the slice.");
  EXPECT_EQ(body["messages"][0]["content"][1]["image_url"]["url"], "data:image/png;base64," + io::base64_encode(kPng));
  EXPECT_EQ(body["max_tokens"], 96);
  // Content given as parts is joined.
  EXPECT_EQ(
      text::ChatClient::parse_reply(
          R"({"choices":[{"message":{"content":[{"type":"text","text":"Two "},{"type":"text","text":"parts"}]}}]})"),
      "Two parts");
}

TEST(OpenAIClient, RetriesOn429And500ThenSucceeds) {
  GTGM_REQUIRE_CURL();
  FakeHttpServer server([](int i, const test::FakeRequest&) {
    if (i == 0) return FakeResponse{429, "{\"error\":\"slow down\"}", 0, false, {{"Retry-After", "0"}}};
    if (i == 1) return FakeResponse{500, "{\"error\":\"boom\"}"};
    return FakeResponse{200, test::chat_reply("third time lucky")};
  });
  EXPECT_EQ(text::ChatClient(options_for(server)).describe_png(kPng), "third time lucky");
  EXPECT_EQ(server.count(), 3);
}

TEST(OpenAIClient, GivesUpAfterRetriesNamingTheLastError) {
  GTGM_REQUIRE_CURL();
  FakeHttpServer server([](int, const test::FakeRequest&) { return FakeResponse{503, "{\"error\":\"overloaded\"}"}; });
  EXPECT_THROW_MSG(text::ChatClient(options_for(server)).describe_png(kPng),
                   "giving up after 3 attempts: HTTP 503: {\"error\":\"overloaded\"}");
  EXPECT_EQ(server.count(), 3);
}

// A slow reply never answers within the test (the server holds it until it stops), so the
// timeout fires whatever the load; the retried request is answered at once and has seconds to
// spare.
constexpr int kNeverMs = 10 * 60 * 1000;

TEST(OpenAIClient, TimeoutIsRetriedAndReported) {
  GTGM_REQUIRE_CURL();
  FakeHttpServer slow_once([](int i, const test::FakeRequest&) {
    return FakeResponse{200, test::chat_reply("late but fine"), i == 0 ? kNeverMs : 0};
  });
  auto o = options_for(slow_once);
  o.timeout_s = 3.0;
  EXPECT_EQ(text::ChatClient(o).describe_png(kPng), "late but fine");
  EXPECT_EQ(slow_once.count(), 2);

  FakeHttpServer always_slow([](int, const test::FakeRequest&) { return FakeResponse{200, "{}", kNeverMs}; });
  auto o2 = options_for(always_slow);
  o2.timeout_s = 0.2;
  o2.retries = 1;
  EXPECT_THROW_MSG(text::ChatClient(o2).describe_png(kPng), "giving up after 2 attempts: timed out after 0.2 s");
  EXPECT_EQ(always_slow.count(), 2);
}

TEST(OpenAIClient, MalformedRepliesAndHangUps) {
  GTGM_REQUIRE_CURL();
  FakeHttpServer server([](int i, const test::FakeRequest&) {
    if (i == 0) return FakeResponse{200, "<html>gateway</html>"};
    if (i == 1) return FakeResponse{200, "", 0, /*hang_up=*/true};
    return FakeResponse{200, R"({"choices":[]})"};
  });
  EXPECT_THROW_MSG(text::ChatClient(options_for(server)).describe_png(kPng),
                   "giving up after 3 attempts: malformed reply (no choices)");
  EXPECT_EQ(server.count(), 3);
  EXPECT_THROW_MSG(text::ChatClient::parse_reply("<html>"), "malformed reply (not JSON): <html>");
  EXPECT_THROW_MSG(text::ChatClient::parse_reply(test::chat_reply("   ")), "malformed reply (empty caption)");
}

TEST(OpenAIClient, HugeRepliesAndCaptionsAreRefusedNotBuffered) {
  GTGM_REQUIRE_CURL();
  // A 3 MiB body (a broken server streaming without end stands behind this): reading stops at 1 MiB.
  FakeHttpServer huge([](int i, const test::FakeRequest&) {
    if (i == 0) return FakeResponse{200, std::string(3 << 20, 'x')};
    return FakeResponse{200, test::chat_reply(std::string(text::kMaxCaptionChars + 1, 'a'))};
  });
  auto o = options_for(huge);
  o.retries = 1;
  EXPECT_THROW_MSG(text::ChatClient(o).describe_png(kPng),
                   "giving up after 2 attempts: malformed reply (a caption of 8193 characters; at most 8192, "
                   "text.captioner.max_caption_chars)");
  EXPECT_EQ(huge.count(), 2);
  o.retries = 0;
  FakeHttpServer huge_once([](int, const test::FakeRequest&) { return FakeResponse{200, std::string(3 << 20, 'x')}; });
  o.endpoint = huge_once.url();
  EXPECT_THROW_MSG(text::ChatClient(o).describe_png(kPng),
                   "reply larger than 1048576 bytes (stopped reading; text.captioner.max_reply_bytes)");
}

TEST(OpenAIClient, ClientErrorsAreNotRetriedAndTheKeyStaysSecret) {
  GTGM_REQUIRE_CURL();
  FakeHttpServer server([](int, const test::FakeRequest&) { return FakeResponse{401, "{\"error\":\"bad key\"}"}; });
  ::setenv("GTGM_TEST_VLM_KEY", "sk-do-not-print", 1);
  config::CaptionerConfig cfg;
  cfg.type = config::CaptionerType::OpenAI;
  cfg.endpoint = server.url();
  cfg.model = "m";
  cfg.api_key_env = "GTGM_TEST_VLM_KEY";
  auto cap = text::make_captioner(cfg);
  text::SliceView view;
  view.volume_id = "v";
  view.image = torch::zeros({4, 4}, torch::kUInt8);
  try {
    cap->caption(view);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("HTTP 401 (not retried; check the API key variable text.captioner.api_key_env)"),
              std::string::npos)
        << msg;
    EXPECT_EQ(msg.find("sk-do-not-print"), std::string::npos) << msg;
  }
  EXPECT_EQ(server.count(), 1);
  EXPECT_EQ(cap->generator(), "openai:m");
  // A gateway that echoes the request headers in its error body (retried 5xx and final 4xx alike):
  // the key is redacted wherever the body is quoted.
  FakeHttpServer echo([](int i, const test::FakeRequest& req) {
    return FakeResponse{i == 0 ? 502 : 400, "{\"error\":\"bad request\",\"echo\":\"" +
                                                req.headers.substr(req.headers.find("Authorization")) + "\"}"};
  });
  cfg.endpoint = echo.url();
  cfg.retries = 1;
  cfg.backoff_s = 0.01;
  try {
    text::make_captioner(cfg)->caption(view);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find("sk-do-not-print"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Bearer [redacted]"), std::string::npos) << msg;
  }
  EXPECT_EQ(echo.count(), 2);
  EXPECT_EQ(cap->prompt_hash(), text::hash_hex(cfg.prompt));
  cfg.api_key_env = "GTGM_TEST_UNSET_VARIABLE";
  ::unsetenv("GTGM_TEST_UNSET_VARIABLE");
  EXPECT_THROW_MSG(text::make_captioner(cfg),
                   "names the environment variable GTGM_TEST_UNSET_VARIABLE, which is not set");
  cfg.api_key_env = "";
  cfg.model = "";
  EXPECT_THROW_MSG(text::make_captioner(cfg), "text.captioner.model is empty");
  cfg.model = "m";
  cfg.endpoint = "127.0.0.1:8000";
  EXPECT_THROW_MSG(text::make_captioner(cfg), "must be an http:// or https:// URL");
  text::ChatClientOptions unreachable;
  unreachable.endpoint = "http://127.0.0.1:1/v1/chat/completions";
  unreachable.model = "m";
  unreachable.prompt = "p";
  unreachable.retries = 0;
  EXPECT_THROW_MSG(text::ChatClient(unreachable).describe_png(kPng), "giving up after 1 attempts: connection error");
}

}  // namespace gtgm
