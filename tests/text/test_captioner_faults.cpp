// A hostile captioning server (#16) against the OpenAI-compatible client and `gtgm caption`:
// error bodies that echo the request's headers (the API key among them) for 400/401/500 and a 200
// whose caption quotes them; an endless body; a 200 MB caption. The key must appear in no output,
// error or file; reading stops at text.captioner.max_reply_bytes whatever the server sends.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>

#include "fake_http_server.h"
#include "gtgm/core/atomic_file.h"
#include "gtgm/io/nifti.h"
#include "gtgm/io/png.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/text/openai_client.h"
#include "phantom.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;
using test::FakeHttpServer;
using test::FakeResponse;

namespace {

#define GTGM_REQUIRE_CURL_FAULTS() \
  if (!text::have_http_client()) GTEST_SKIP() << "built without libcurl"

constexpr const char* kKey = "sk-faults-0123456789abcdef";

// The request's headers quoted in a JSON error body, as some gateways do (Authorization first, so
// that it lies inside the part of the body that messages quote).
std::string echo_headers(const test::FakeRequest& req) {
  const auto at = req.headers.find("Authorization");
  std::string h;
  for (char c : req.headers.substr(at, req.headers.find('\r', at) - at) + "\n" + req.headers) {
    if (c == '\r') continue;
    if (c == '\n') {
      h += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') h.push_back('\\');
    h.push_back(c);
  }
  return "{\"error\":{\"message\":\"rejected\",\"request_headers\":\"" + h + "\"}}";
}

text::ChatClientOptions client_options(const FakeHttpServer& s) {
  text::ChatClientOptions o;
  o.endpoint = s.url();
  o.model = "m";
  o.prompt = "Describe.";
  o.timeout_s = 120.0;  // no test here depends on a timeout firing
  o.retries = 0;
  o.backoff_s = 0.01;
  return o;
}

const std::string kFaultPng = io::encode_png(torch::full({4, 4}, 7, torch::kUInt8));

// Every file under `dir`, concatenated (to search for the key).
std::string all_files(const fs::path& dir) {
  std::string out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out += core::read_text_file(e.path());
  return out;
}

}  // namespace

TEST(CaptionerFaults, AnEchoedKeyAppearsInNoOutputErrorOrFile) {
  GTGM_REQUIRE_CURL_FAULTS();
  test::TempDir dir;
  io::Volume v;
  v.data = test::ct_slice_phantom(6, 32, 32).to(torch::kShort).unsqueeze(0);
  io::write_nifti(v, dir / "imgs/ct_1.nii.gz");
  for (const int status : {400, 401, 500}) {
    SCOPED_TRACE("HTTP " + std::to_string(status));
    FakeHttpServer server([status](int, const test::FakeRequest& req) { return FakeResponse{status, echo_headers(req)}; });
    const fs::path run = dir / ("run" + std::to_string(status));
    const std::string out = (dir / ("c" + std::to_string(status) + ".jsonl")).string();
    const auto r = test::run_command(
        std::string("GTGM_FAULTS_KEY=") + kKey + " " + GTGM_BINARY + " caption --images " + (dir / "imgs").string() +
        " --out " + out + " --max-positions 1 --set text.captioner.type=openai --set text.captioner.endpoint=" +
        server.url() + " --set text.captioner.model=m --set text.captioner.api_key_env=GTGM_FAULTS_KEY" +
        " --set text.captioner.retries=1 --set text.captioner.backoff_s=0.01 --set run.dir=" + run.string() +
        " --set run.log_level=debug");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    ASSERT_GE(server.count(), 1);
    // The server did get the key, and quoted it back.
    EXPECT_NE(server.requests()[0].headers.find(std::string("Authorization: Bearer ") + kKey), std::string::npos);
    EXPECT_EQ(r.output.find(kKey), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("sk-faults"), std::string::npos) << r.output;  // not even a prefix of it
    EXPECT_NE(r.output.find("Authorization: Bearer [redacted]"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("HTTP " + std::to_string(status)), std::string::npos) << r.output;
    EXPECT_EQ(all_files(dir.path()).find(kKey), std::string::npos);
  }
  // The thrown error of the client itself, and a 200 whose caption quotes the headers: the stored
  // caption holds "[redacted]", never the key.
  FakeHttpServer echo200([](int, const test::FakeRequest& req) {
    const auto at = req.headers.find("Authorization");
    return FakeResponse{200, test::chat_reply("headers were: " + req.headers.substr(at, req.headers.find('\r', at) - at))};
  });
  auto o = client_options(echo200);
  o.api_key = kKey;
  const std::string caption = text::ChatClient(o).describe_png(kFaultPng);
  EXPECT_EQ(caption.find(kKey), std::string::npos) << caption;
  EXPECT_NE(caption.find("Authorization: Bearer [redacted]"), std::string::npos) << caption;
  FakeHttpServer echo401([](int, const test::FakeRequest& req) { return FakeResponse{401, echo_headers(req)}; });
  o.endpoint = echo401.url();
  try {
    text::ChatClient(o).describe_png(kFaultPng);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find(kKey), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("HTTP 401 (not retried"), std::string::npos) << e.what();
  }
}

TEST(CaptionerFaults, AppendBoundedNeverHoldsMoreThanTheLimit) {
  // The reader's whole memory rule: a chunk that would pass the limit is refused and the body
  // stays as it was; the buffer's capacity never grows past the limit either.
  std::string body;
  const std::string chunk(300, 'x');
  struct Case {
    size_t n;
    bool accepted;
    size_t size_after;
  };
  for (const Case& c : {Case{300, true, 300}, Case{300, true, 600}, Case{300, true, 900}, Case{300, false, 900},
                        Case{100, true, 1000}, Case{1, false, 1000}, Case{0, true, 1000}}) {
    EXPECT_EQ(text::append_bounded(body, chunk.data(), c.n, 1000), c.accepted) << c.n << " at " << body.size();
    EXPECT_EQ(body.size(), c.size_after);
    EXPECT_LE(body.capacity(), 1000u);
  }
  std::string empty;
  EXPECT_FALSE(text::append_bounded(empty, chunk.data(), SIZE_MAX, 1000));  // no overflow in the check
  EXPECT_TRUE(empty.empty());
}

TEST(CaptionerFaults, AnEndlessBodyIsCutOffAtMaxReplyBytes) {
  GTGM_REQUIRE_CURL_FAULTS();
  FakeHttpServer endless([](int, const test::FakeRequest&) {
    FakeResponse r{200, "{\"choices\":[{\"message\":{\"content\":\""};
    r.stream_bytes = -1;  // never ends
    return r;
  });
  auto o = client_options(endless);
  o.max_reply_bytes = 64 * 1024;
  o.retries = 1;
  EXPECT_THROW_MSG(text::ChatClient(o).describe_png(kFaultPng),
                   "giving up after 2 attempts: reply larger than 65536 bytes (stopped reading; "
                   "text.captioner.max_reply_bytes)");
  EXPECT_EQ(endless.count(), 2);
  // The client hung up: the server could only push what the kernel's socket buffers hold beyond
  // the limit (a few MiB on loopback; without the limit the stream would still be going).
  EXPECT_LT(endless.bytes_sent(), int64_t{32} << 20);
}

TEST(CaptionerFaults, A200MBCaptionIsRefusedWithoutBeingRead) {
  GTGM_REQUIRE_CURL_FAULTS();
  constexpr int64_t k200MB = 200'000'000;
  FakeHttpServer huge([](int, const test::FakeRequest&) {
    FakeResponse r{200, "{\"choices\":[{\"message\":{\"content\":\""};
    r.stream_bytes = k200MB;
    r.tail = "\"}}]}";
    return r;
  });
  auto o = client_options(huge);  // default limits: 1 MiB replies, 8192-byte captions
  EXPECT_THROW_MSG(text::ChatClient(o).describe_png(kFaultPng),
                   "reply larger than 1048576 bytes (stopped reading; text.captioner.max_reply_bytes)");
  EXPECT_LT(huge.bytes_sent(), k200MB / 2);
  // A caption that fits the reply limit but not max_caption_chars is a malformed reply (retried,
  // never stored); raising the key admits it.
  FakeHttpServer long_caption(
      [](int, const test::FakeRequest&) { return FakeResponse{200, test::chat_reply(std::string(100000, 'c'))}; });
  o.endpoint = long_caption.url();
  EXPECT_THROW_MSG(text::ChatClient(o).describe_png(kFaultPng),
                   "malformed reply (a caption of 100000 characters; at most 8192, text.captioner.max_caption_chars)");
  o.max_caption_chars = 100000;
  EXPECT_EQ(text::ChatClient(o).describe_png(kFaultPng).size(), 100000u);
  // The keys are checked at the config boundary.
  const auto bad = test::run_gtgm("info --print-config --set text.captioner.max_reply_bytes=10");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("text.captioner.max_reply_bytes"), std::string::npos) << bad.output;
}

}  // namespace gtgm
