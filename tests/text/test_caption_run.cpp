// `gtgm caption` runs: template captioner over volume files and folders, resume, the CLI (caption and
// CSV import), and the OpenAI-compatible captioner against a fake server (concurrency, failures,
// resume after interruption).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_http_server.h"
#include "gtgm/io/nifti.h"
#include "gtgm/text/caption_run.h"
#include "gtgm/text/openai_client.h"
#include "phantom.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;
using test::FakeHttpServer;
using test::FakeResponse;

namespace {

// Wraps a captioner and counts its caption() calls in flight: the client's own concurrency.
class ConcurrencyProbe : public text::Captioner {
 public:
  explicit ConcurrencyProbe(std::unique_ptr<text::Captioner> inner) : inner_(std::move(inner)) {}
  std::string caption(const text::SliceView& view) override {
    const int now = ++in_flight_;
    int prev = max_in_flight_;
    while (now > prev && !max_in_flight_.compare_exchange_weak(prev, now)) {
    }
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { --n; }
    } leave{in_flight_};
    return inner_->caption(view);
  }
  std::string generator() const override { return inner_->generator(); }
  std::string prompt_hash() const override { return inner_->prompt_hash(); }
  int concurrency() const override { return inner_->concurrency(); }
  int max_in_flight() const { return max_in_flight_; }

 private:
  std::unique_ptr<text::Captioner> inner_;
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
};

}  // namespace

TEST(CaptionRun, TemplateCaptionsEveryGridPositionAndResumes) {
  test::TempDir dir;
  io::Volume v;
  v.data = test::ct_slice_phantom(20, 96, 96).to(torch::kShort).unsqueeze(0);
  v.geometry.spacing = {1.0, 1.0, 3.0};
  io::write_nifti(v, dir / "imgs/case_a.nii.gz");
  v.data = v.data.slice(1, 0, 8).contiguous();
  io::write_nifti(v, dir / "imgs/case_b.nii.gz");
  test::write_file(dir / "imgs/._case_a.nii.gz", "macOS resource fork");
  config::CaptionerConfig cfg;
  cfg.step = {10, 48, 48};
  cfg.slice_size = 32;
  cfg.patch = 48;
  text::TemplateCaptioner cap;
  text::CaptionRunOptions opt;
  opt.inputs = {dir / "imgs"};
  opt.out = dir / "captions.jsonl";
  const auto r = text::run_caption(cfg, cap, opt);
  EXPECT_EQ(r.volumes, 2);
  EXPECT_EQ(r.positions, 8 + 4);  // case_a: 2 x 2 x 2; case_b (8 slices < step): 1 x 2 x 2
  EXPECT_EQ(r.written, 12);
  EXPECT_EQ(r.failed, 0);
  const auto cache = text::CaptionCache::load(opt.out);
  EXPECT_EQ(cache.size(), 12);
  EXPECT_EQ(cache.volumes(), (std::vector<std::string>{"case_a", "case_b"}));
  EXPECT_EQ(cache.record(cache.nearest("case_b", {0, 0, 0})).position, (text::VoxelPosition{4, 24, 24}));
  EXPECT_EQ(cache.record(0).generator, "template");
  const auto again = text::run_caption(cfg, cap, opt);
  EXPECT_EQ(again.skipped, 12);
  EXPECT_EQ(again.written, 0);
  EXPECT_EQ(text::CaptionCache::load(opt.out).size(), 12);
  EXPECT_EQ(text::volume_id_from_path("/x/liver_3.nii.gz"), "liver_3");
  EXPECT_EQ(text::volume_id_from_path("/x/sample_A.hdf"), "sample_A");
  test::write_file(dir / "dup/case_a.nrrd", "");
  EXPECT_THROW_MSG(text::list_volume_inputs({dir / "imgs", dir / "dup/case_a.nrrd"}), "volume id 'case_a' is used by");
}

TEST(CaptionCli, TemplateCaptionAndImportThroughTheBinary) {
  test::TempDir dir;
  io::Volume v;
  v.data = test::ct_slice_phantom(12, 64, 64).to(torch::kShort).unsqueeze(0);
  io::write_nifti(v, dir / "img/ct_1.nii.gz");
  const auto r = test::run_gtgm("caption --images " + (dir / "img").string() + " --out " + (dir / "c.jsonl").string() +
                                " --set text.captioner.step=[6,32,32] --set run.dir=" + (dir / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(text::CaptionCache::load(dir / "c.jsonl").size(), 8);
  test::write_file(dir / "csv/ct_1.csv", "z,y,x,caption\n1,2,3,hello\n");
  const auto imp = test::run_gtgm("caption --import-csv " + (dir / "csv").string() + " --out " +
                                  (dir / "i.jsonl").string() + " --set run.dir=" + (dir / "run").string());
  ASSERT_EQ(imp.exit_code, 0) << imp.output;
  EXPECT_EQ(text::CaptionCache::load(dir / "i.jsonl").text(0), "hello");
  const auto bad = test::run_gtgm("caption --out " + (dir / "x.jsonl").string());
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--images"), std::string::npos) << bad.output;
}

TEST(CaptionRun, OpenAIConcurrentAndResumesAfterFailures) {
  if (!text::have_http_client()) GTEST_SKIP() << "built without libcurl";
  test::TempDir dir;
  io::Volume v;
  v.data = (torch::rand({1, 20, 64, 64}) * 100).to(torch::kShort);
  io::write_nifti(v, dir / "mr_1.nii.gz");
  config::CaptionerConfig cfg;
  cfg.type = config::CaptionerType::OpenAI;
  cfg.model = "m";
  cfg.step = {5, 32, 32};  // 4 x 2 x 2 = 16 positions
  cfg.slice_size = 16;
  cfg.retries = 0;
  cfg.backoff_s = 0.01;
  cfg.concurrency = 4;
  text::CaptionRunOptions opt;
  opt.inputs = {dir / "mr_1.nii.gz"};
  opt.out = dir / "c.jsonl";

  // First run: the server dies after 6 requests (a crashed VLM server / interrupted run). The first
  // reply is held until a second request has arrived, so overlap is certain however the threads are
  // scheduled; concurrency is measured at the client (calls in flight) and at the server (accept ..
  // reply sent, an interval inside the client's), and neither may exceed the limit.
  {
    std::atomic<int> arrived{0};
    FakeHttpServer flaky([&arrived](int i, const test::FakeRequest&) {
      ++arrived;
      if (i == 0) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (arrived < 2 && std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return i < 6 ? FakeResponse{200, test::chat_reply("caption " + std::to_string(i)), 20}
                   : FakeResponse{500, "{\"error\":\"down\"}"};
    });
    cfg.endpoint = flaky.url();
    ConcurrencyProbe cap(text::make_captioner(cfg));
    const auto r = text::run_caption(cfg, cap, opt);
    EXPECT_EQ(r.written, 6);
    EXPECT_EQ(r.failed, 10);
    EXPECT_NE(r.first_error.find("HTTP 500"), std::string::npos) << r.first_error;
    EXPECT_GE(cap.max_in_flight(), 2);    // the client overlapped requests
    EXPECT_LE(cap.max_in_flight(), 4);    // and never had more than the limit in flight
    EXPECT_GE(flaky.max_in_flight(), 2);  // the server saw the overlap
    EXPECT_LE(flaky.max_in_flight(), 4);
  }
  EXPECT_EQ(text::CaptionCache::load(opt.out).size(), 6);
  // Second run against a healthy server asks only for the 10 missing positions.
  FakeHttpServer healthy([](int, const test::FakeRequest&) { return FakeResponse{200, test::chat_reply("ok")}; });
  cfg.endpoint = healthy.url();
  auto cap = text::make_captioner(cfg);
  const auto r2 = text::run_caption(cfg, *cap, opt);
  EXPECT_EQ(r2.skipped, 6);
  EXPECT_EQ(r2.written, 10);
  EXPECT_EQ(healthy.count(), 10);
  const auto cache = text::CaptionCache::load(opt.out);
  EXPECT_EQ(cache.size(), 16);
  EXPECT_EQ(cache.stats().duplicate_positions, 0);
  EXPECT_EQ(cache.record(0).generator, "openai:m");
  // Every request carried a decodable 16x16 PNG.
  const auto body = nlohmann::json::parse(healthy.requests()[0].body);
  const std::string url = body["messages"][0]["content"][1]["image_url"]["url"];
  EXPECT_EQ(url.rfind("data:image/png;base64,iVBORw0KGgo", 0), 0u);
}

}  // namespace gtgm
