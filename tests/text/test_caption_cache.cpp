// Caption cache (JSONL), the reference-CSV importer and the text-embedding cache.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "gtgm/core/atomic_file.h"
#include "gtgm/io/safetensors.h"
#include "gtgm/text/caption_cache.h"
#include "gtgm/text/embedding_cache.h"
#include "gtgm/text/text_encoder.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;

namespace {

const std::string kHeader = "{\"format\":\"gtgm-captions\",\"version\":1}\n";

std::string rec(const std::string& vol, int z, int y, int x, const std::string& text) {
  return text::caption_record_json({vol, {z, y, x}, text, "template", ""}) + "\n";
}

}  // namespace

TEST(CaptionCache, NearestPositionLookup) {
  test::TempDir dir;
  test::write_file(dir / "c.jsonl", kHeader + rec("a", 5, 40, 40, "a-top") + rec("a", 15, 40, 40, "a-mid") +
                                        rec("a", 25, 40, 120, "a-right") + rec("b", 5, 40, 40, "b-only"));
  const auto cache = text::CaptionCache::load(dir / "c.jsonl");
  EXPECT_EQ(cache.size(), 4);
  EXPECT_EQ(cache.volumes(), (std::vector<std::string>{"a", "b"}));
  struct Case {
    std::string vol;
    text::VoxelPosition p;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{{"a", {0, 0, 0}, "a-top"},
                                         {"a", {11, 40, 40}, "a-mid"},
                                         {"a", {10, 40, 40}, "a-top"},  // tie 5 vs 5 -> earliest record
                                         {"a", {24, 40, 100}, "a-right"},
                                         {"a", {30, 40, 40}, "a-mid"},
                                         {"b", {99, 99, 99}, "b-only"}}) {
    EXPECT_EQ(cache.text(cache.nearest(c.vol, c.p)), c.expected) << c.vol << " " << c.p[0] << "," << c.p[2];
  }
  // Physical spacing changes which caption is nearest: z steps of 5 mm vs x steps of 0.5 mm.
  EXPECT_EQ(cache.text(cache.nearest("a", {22, 40, 70})), "a-mid");                     // 949 vs 2509 voxels^2
  EXPECT_EQ(cache.text(cache.nearest("a", {22, 40, 70}, {5.0, 0.5, 0.5})), "a-right");  // 1450 vs 850 mm^2
  EXPECT_EQ(cache.text(cache.nearest("a", {18, 40, 100}, {5.0, 0.5, 0.5})), "a-mid");
  EXPECT_THROW_MSG(cache.nearest("zz", {0, 0, 0}), "has no caption for volume 'zz'");
  EXPECT_THROW_MSG(cache.text(7), "caption index 7 out of range [0, 4)");
}

TEST(CaptionCache, ValidationCountsAndErrors) {
  test::TempDir dir;
  test::write_file(dir / "c.jsonl", kHeader + rec("a", 5, 5, 5, "first") + rec("a", 5, 5, 5, "second") +
                                        rec("a", 6, 5, 5, "  ") + rec("b", 1, 1, 1, "") + rec("c", 1, 1, 1, "ok") +
                                        "\n");
  const auto cache = text::CaptionCache::load(dir / "c.jsonl");
  EXPECT_EQ(cache.size(), 2);
  EXPECT_EQ(cache.stats().duplicate_positions, 1);
  EXPECT_EQ(cache.stats().empty_text, 2);
  EXPECT_EQ(cache.text(cache.nearest("a", {5, 5, 5})), "second");  // last wins

  const auto cov = cache.check_coverage({"a", "d", "e"}, false);
  EXPECT_EQ(cov.unknown_volumes, std::vector<std::string>{"c"});
  EXPECT_EQ(cov.unknown_records, 1);
  EXPECT_EQ(cov.uncaptioned, (std::vector<std::string>{"d", "e"}));
  EXPECT_THROW_MSG(cache.check_coverage({"a", "d", "e"}, true), "2 of 3 dataset volumes have no caption: d, e");

  struct Bad {
    std::string body, expected;
  };
  for (const auto& b : std::vector<Bad>{
           {"{\"format\":\"other\"}\n", "c.jsonl:1: not a gtgm caption cache"},
           {"{\"format\":\"gtgm-captions\",\"version\":9}\n", "version 9 is not supported"},
           {kHeader + "{\"volume\":\"a\",\"text\":\"x\"}\n" + rec("a", 1, 1, 1, "y"),
            "c.jsonl:2: \"position\" must be [z, y, x]"},
           {kHeader + rec("a", 1, 1, 1, "y") + "{\"volume\":\"a\",\"position\":[1,-2,3],\"text\":\"x\"}\n",
            "c.jsonl:3: \"position\" must be [z, y, x] (3 non-negative integers)"},
           {kHeader + "{\"volume\":\"a\",\"position\":[1,2,3],\"text\":5}\n", "\"text\" must be a string"},
           {kHeader + "{oops\n" + rec("a", 1, 1, 1, "y"), "c.jsonl:2: not valid JSON"},
           {"", "is empty"},
       }) {
    test::write_file(dir / "c.jsonl", b.body);
    EXPECT_THROW_MSG(text::CaptionCache::load(dir / "c.jsonl"), b.expected);
  }
  EXPECT_THROW_MSG(text::CaptionCache::load(dir / "none.jsonl"), "none.jsonl cannot be opened");
}

TEST(CaptionCache, WriterAppendsResumesAndRepairsTruncatedTail) {
  test::TempDir dir;
  const auto path = dir / "sub/c.jsonl";
  {
    text::CaptionWriter w(path);
    w.append({"v", {1, 2, 3}, "one", "template", ""});
    w.append({"v", {4, 5, 6}, "two \"quoted\"\nline", "template", ""});
  }
  // Simulate a run killed in the middle of writing a line.
  { std::ofstream(path, std::ios::app) << "{\"volume\":\"v\",\"position\":[7,"; }
  const auto partial = text::CaptionCache::load(path);
  EXPECT_EQ(partial.size(), 2);
  EXPECT_TRUE(partial.stats().truncated_last_line);
  {
    text::CaptionWriter w(path);
    EXPECT_EQ(w.done(), (std::set<std::string>{"(v, 1, 2, 3)", "(v, 4, 5, 6)"}));
    w.append({"v", {7, 8, 9}, "three", "openai:m", text::hash_hex("prompt")});
  }
  const auto full = text::CaptionCache::load(path);
  ASSERT_EQ(full.size(), 3);
  EXPECT_FALSE(full.stats().truncated_last_line);
  EXPECT_EQ(full.record(1).text, "two \"quoted\"\nline");
  EXPECT_EQ(full.record(2).generator, "openai:m");
  EXPECT_EQ(full.record(2).prompt_hash, text::hash_hex("prompt"));
  EXPECT_EQ(text::hash_hex(""), "cbf29ce484222325");  // FNV-1a offset basis
  // A complete last record without its newline gets one before the next append.
  test::write_file(dir / "n.jsonl", kHeader + rec("v", 1, 1, 1, "x").substr(0, rec("v", 1, 1, 1, "x").size() - 1));
  { text::CaptionWriter(dir / "n.jsonl").append({"v", {2, 2, 2}, "y", "template", ""}); }
  EXPECT_EQ(text::CaptionCache::load(dir / "n.jsonl").size(), 2);
  test::write_file(dir / "bad.jsonl", "not a cache\n");
  EXPECT_THROW_MSG(text::CaptionWriter(dir / "bad.jsonl"), "not a gtgm caption cache");
}

TEST(CaptionImport, ReferenceCsvFilesPerVolume) {
  test::TempDir dir;
  test::write_file(dir / "csv/liver_3.nii.gz.csv",
                   "\xEF\xBB\xBFz,y,x,caption\r\n5,40,40,\"A CT slice, with \"\"quotes\"\"\"\r\n15.0,40,40,second\r\n"
                   "25,40,40,\r\n");
  test::write_file(dir / "csv/case02.csv", "Caption,X,Y,Z\n\"multi\nline\",1,2,3\n");
  test::write_file(dir / "csv/notes.txt", "ignored");
  EXPECT_EQ(text::import_reference_csv(dir / "csv", dir / "out.jsonl"), 3);
  const auto cache = text::CaptionCache::load(dir / "out.jsonl");
  EXPECT_EQ(cache.volumes(), (std::vector<std::string>{"case02", "liver_3"}));
  const auto& r = cache.record(cache.nearest("liver_3", {5, 40, 40}));
  EXPECT_EQ(r.text, "A CT slice, with \"quotes\"");
  EXPECT_EQ(r.generator, "import:gtgm-csv");
  EXPECT_EQ(cache.record(cache.nearest("liver_3", {16, 40, 40})).position, (text::VoxelPosition{15, 40, 40}));
  const auto& m = cache.record(cache.nearest("case02", {0, 0, 0}));
  EXPECT_EQ(m.position, (text::VoxelPosition{3, 2, 1}));  // columns matched by name
  EXPECT_EQ(m.text, "multi\nline");

  test::write_file(dir / "bad1/a.csv", "z,y,caption\n1,2,x\n");
  EXPECT_THROW_MSG(text::import_reference_csv(dir / "bad1", dir / "o.jsonl"),
                   "a.csv:1: header 'z,y,caption' must name the columns location and description (the reference's "
                   "CSV) or z, y, x and caption");
  test::write_file(dir / "bad2/a.csv", "z,y,x,caption\n1,2,x3,text\n");
  EXPECT_THROW_MSG(text::import_reference_csv(dir / "bad2", dir / "o.jsonl"),
                   "a.csv:2: column x must be a non-negative integer voxel index, got 'x3'");
  test::write_file(dir / "bad3/a.csv", "z,y,x,caption\n1,2,3,\"open\n");
  EXPECT_THROW_MSG(text::import_reference_csv(dir / "bad3", dir / "o.jsonl"), "unterminated quoted field");
  fs::create_directories(dir / "empty");
  EXPECT_THROW_MSG(text::import_reference_csv(dir / "empty", dir / "o.jsonl"), "no *.csv files");
  EXPECT_FALSE(fs::exists(dir / "o.jsonl"));
}

namespace {
/// A deterministic frozen "encoder" counting how many texts it encoded.
class CountingEncoder : public text::TextEncoder {
 public:
  CountingEncoder() : TextEncoder("CountingEncoder") {}
  torch::Tensor encode(const std::vector<std::string>& texts) override {
    calls += static_cast<int64_t>(texts.size());
    auto out = torch::zeros({static_cast<int64_t>(texts.size()), 3});
    for (size_t i = 0; i < texts.size(); ++i) {
      out[i][0] = static_cast<double>(texts[i].size());
      out[i][1] = static_cast<double>(texts[i][0]);
      out[i][2] = 1.0;
    }
    return out;
  }
  int64_t dim() const override { return 3; }
  bool frozen() const override { return true; }
  torch::Device device() const override { return torch::kCPU; }
  std::string describe() const override { return "counting encoder v" + std::to_string(version); }
  int64_t calls = 0;
  int version = 1;
};
}  // namespace

TEST(EmbeddingCache, FillResumeReuseAndLookup) {
  test::TempDir dir;
  std::vector<text::CaptionRecord> recs;
  for (int i = 0; i < 10; ++i) recs.push_back({"v", {i, 0, 0}, "caption " + std::to_string(i % 7), "template", ""});
  const auto captions = text::CaptionCache::from_records(recs, "mem");
  CountingEncoder enc;
  text::EmbedTextOptions opt;
  opt.batch_size = 2;
  opt.stop_after = 4;  // interrupted run
  auto r1 = text::embed_captions(enc, captions, dir / "emb.safetensors", opt);
  EXPECT_FALSE(r1.complete);
  EXPECT_EQ(r1.computed, 4);
  EXPECT_EQ(enc.calls, 4);
  EXPECT_THROW_MSG(text::EmbeddingCache::load(dir / "emb.safetensors"), "incomplete (7 of 10 rows computed)");

  opt.stop_after = -1;
  auto r2 = text::embed_captions(enc, captions, dir / "emb.safetensors", opt);  // resume
  EXPECT_TRUE(r2.complete);
  EXPECT_EQ(r2.reused, 7);    // rows 0-3 and 7-9 share the 4 texts encoded before
  EXPECT_EQ(r2.computed, 3);  // 7 unique texts in total, 4 done before
  EXPECT_EQ(enc.calls, 7);
  const auto cache = text::EmbeddingCache::load(dir / "emb.safetensors");
  cache.check_matches(captions);
  EXPECT_EQ(cache.dim(), 3);
  const auto rows = cache.lookup({9, 2});
  EXPECT_EQ(rows.sizes().vec(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(torch::equal(rows[0], enc.encode({"caption 2"})[0]));  // row 9 = "caption 2"
  EXPECT_TRUE(torch::equal(rows[1], rows[0]));
  EXPECT_EQ(cache.metadata().at("encoder"), "counting encoder v1");
  EXPECT_THROW_MSG(cache.lookup({10}), "caption index 10 out of range [0, 10)");

  // A third run reuses everything; a different encoder recomputes everything.
  enc.calls = 0;
  EXPECT_EQ(text::embed_captions(enc, captions, dir / "emb.safetensors", opt).reused, 10);
  EXPECT_EQ(enc.calls, 0);
  enc.version = 2;
  EXPECT_EQ(text::embed_captions(enc, captions, dir / "emb.safetensors", opt).computed, 7);

  // Captions edited after embedding: the mismatch is reported.
  recs[3].text = "changed";
  EXPECT_THROW_MSG(cache.check_matches(text::CaptionCache::from_records(recs, "edited")),
                   "1 embeddings do not match the texts of caption cache edited (first at row 3)");
  recs.pop_back();
  EXPECT_THROW_MSG(cache.check_matches(text::CaptionCache::from_records(recs, "short")),
                   "holds 10 embeddings but caption cache short has 9 captions");
  io::save_safetensors(dir / "other.safetensors", {{"x", torch::ones(1)}}, {{"format", "x"}});
  EXPECT_THROW_MSG(text::EmbeddingCache::load(dir / "other.safetensors"), "is not a gtgm text-embedding cache");
}

TEST(EmbeddingCache, CaptionPrefixIsPartOfTheTextAndMustMatch) {
  test::TempDir dir;
  test::write_file(dir / "c.jsonl", kHeader + rec("liver_3", 5, 40, 40, "a ct slice") + rec("b", 1, 1, 1, "x, y"));
  const auto raw = text::load_caption_inputs(dir / "c.jsonl", config::CaptionPrefix::None);
  const auto prefixed = text::load_caption_inputs(dir / "c.jsonl", config::CaptionPrefix::Volume);
  EXPECT_EQ(raw.text(0), "a ct slice");
  EXPECT_EQ(prefixed.text(0), "liver_3, a ct slice");  // the reference's base_name + ', ' + caption
  EXPECT_EQ(prefixed.text(1), "b, x, y");
  EXPECT_EQ(prefixed.record(1).position, raw.record(1).position);
  CountingEncoder enc;
  text::embed_captions(enc, raw, dir / "emb.safetensors");
  const auto cache = text::EmbeddingCache::load(dir / "emb.safetensors");
  cache.check_matches(raw);
  EXPECT_THROW_MSG(cache.check_matches(prefixed), "2 embeddings do not match the texts of caption cache");
}

TEST(EmbeddingCache, NonFiniteRowsAreRefusedOnLoadAndRecomputed) {
  // #16: NaN text embeddings were not checked on load.
  test::TempDir dir;
  std::vector<text::CaptionRecord> recs;
  for (int i = 0; i < 5; ++i) recs.push_back({"v", {i, 0, 0}, "caption " + std::to_string(i), "template", ""});
  const auto captions = text::CaptionCache::from_records(recs, "mem");
  CountingEncoder enc;
  text::EmbedTextOptions opt;
  text::embed_captions(enc, captions, dir / "emb.safetensors", opt);
  // Damage rows 2 and 4 in the file, keeping everything else.
  std::map<std::string, std::string> meta;
  std::map<std::string, torch::Tensor> t;
  for (auto& [k, v] : io::load_safetensors(dir / "emb.safetensors", &meta)) t[k] = v.clone();
  t["embeddings"][2][1] = std::numeric_limits<float>::quiet_NaN();
  t["embeddings"][4][0] = std::numeric_limits<float>::infinity();
  io::save_safetensors(dir / "emb.safetensors", {t.begin(), t.end()}, meta);
  EXPECT_THROW_MSG(text::EmbeddingCache::load(dir / "emb.safetensors"),
                   (dir / "emb.safetensors").string() + ": text-embedding row 2 holds NaN/Inf (2 of 5 rows do)");
  // Re-running embed-text encodes exactly the bad rows again.
  enc.calls = 0;
  const auto r = text::embed_captions(enc, captions, dir / "emb.safetensors", opt);
  EXPECT_EQ(r.reused, 3);
  EXPECT_EQ(r.computed, 2);
  EXPECT_TRUE(
      torch::isfinite(text::EmbeddingCache::load(dir / "emb.safetensors").lookup({0, 1, 2, 3, 4})).all().item<bool>());
}

TEST(EmbeddingCache, RealBertEncoderFillsRowsEqualToDirectEncoding) {
  config::TextConfig cfg;
  cfg.model_dir = test::bert_tiny_dir().string();
  auto enc = text::build_text_encoder(cfg);
  const auto captions = text::CaptionCache::from_records(
      {{"v", {0, 0, 0}, "the liver shows a small lesion", "t", ""}, {"v", {1, 0, 0}, "axial ct slice", "t", ""}});
  test::TempDir dir;
  text::embed_captions(*enc, captions, dir / "e.safetensors");
  const auto cache = text::EmbeddingCache::load(dir / "e.safetensors");
  const auto direct = enc->encode({"the liver shows a small lesion", "axial ct slice"});
  EXPECT_LE((cache.lookup({0, 1}) - direct).abs().max().item<double>(), 1e-6);
  cfg.freeze_layers = 1;
  auto trainable = text::build_text_encoder(cfg);
  EXPECT_THROW_MSG(text::embed_captions(*trainable, captions, dir / "f.safetensors"), "needs a frozen text encoder");
}

}  // namespace gtgm

namespace gtgm {

TEST(EmbedTextCli, FillsAndResumesThroughTheBinary) {
  test::TempDir dir;
  std::string body = kHeader;
  for (int i = 0; i < 5; ++i) body += rec("v", i, 0, 0, "the liver shows lesion " + std::to_string(i % 3));
  test::write_file(dir / "c.jsonl", body);
  const std::string common =
      " --captions " + (dir / "c.jsonl").string() + " --out " + (dir / "e.safetensors").string() +
      " --set text.model_dir=" + test::bert_tiny_dir().string() + " --set run.device=cpu";
  const auto r = test::run_gtgm("embed-text" + common);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("5 captions: 0 reused, 3 encoded (12-d)"), std::string::npos) << r.output;
  const auto cache = text::EmbeddingCache::load(dir / "e.safetensors");
  // embed-text encodes the captions as pretraining reads them: with the "<volume>, " prefix (the
  // default text.caption_prefix), and the cache matches exactly those.
  cache.check_matches(text::load_caption_inputs(dir / "c.jsonl", config::TextConfig{}.caption_prefix));
  EXPECT_THROW_MSG(cache.check_matches(text::CaptionCache::load(dir / "c.jsonl")), "do not match the texts");
  const auto again = test::run_gtgm("embed-text" + common);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("5 captions: 5 reused, 0 encoded"), std::string::npos) << again.output;
  const auto partial = test::run_gtgm("embed-text" + common + " --set text.freeze_layers=1");
  EXPECT_EQ(partial.exit_code, 2) << partial.output;
  EXPECT_NE(partial.output.find("text.freeze_layers is 1"), std::string::npos) << partial.output;
}

}  // namespace gtgm
