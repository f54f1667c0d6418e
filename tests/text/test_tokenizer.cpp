// WordPiece tokenizer: parity with the Python reimplementation of Hugging Face's BasicTokenizer +
// WordpieceTokenizer (scripts/reference/bert_reference.py), Unicode helpers, batch encoding.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gtgm/core/atomic_file.h"
#include "gtgm/text/tokenizer.h"
#include "gtgm/text/unicode.h"
#include "test_util.h"

namespace gtgm {
namespace fs = std::filesystem;
namespace uc = text::unicode;

namespace {
std::string u8(std::u32string_view s) { return uc::encode_utf8(s); }
}  // namespace

TEST(TokenizerParity, MatchesPythonReferenceOnEveryCase) {
  const auto golden = nlohmann::json::parse(core::read_text_file(test::bert_tiny_dir() / "tokenizer_cases.json"));
  EXPECT_EQ(golden["unicode_version"].get<std::string>(), uc::unicode_version());
  int checked = 0;
  for (const auto& c : golden["cases"]) {
    text::WordPieceOptions opt;
    opt.lower_case = c["lower_case"].get<bool>();
    if (!c["strip_accents"].is_null()) opt.strip_accents = c["strip_accents"].get<bool>();
    const auto tok = text::WordPieceTokenizer::from_vocab_file(test::bert_tiny_dir() / "vocab.txt", opt);
    const auto text = c["text"].get<std::string>();
    SCOPED_TRACE(::testing::Message() << "text '" << text << "' lower_case " << opt.lower_case << " strip "
                                      << c["strip_accents"].dump());
    EXPECT_EQ(tok.tokenize(text), c["tokens"].get<std::vector<std::string>>());
    const auto enc = tok.encode({text}, 8);
    const auto expected = c["encoded_max8"].get<std::vector<int64_t>>();
    ASSERT_EQ(enc.input_ids.size(1), static_cast<int64_t>(expected.size()));
    for (size_t j = 0; j < expected.size(); ++j) EXPECT_EQ(enc.input_ids[0][j].item<int64_t>(), expected[j]);
    ++checked;
  }
  EXPECT_EQ(checked, 48);
}

TEST(Tokenizer, WordPieceGreedyLongestMatch) {
  const text::WordPieceTokenizer tok(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "unaff", "##aff", "##able", "##a", "##ble", "x"});
  EXPECT_EQ(tok.wordpiece("unaffable"), (std::vector<std::string>{"unaff", "##able"}));
  EXPECT_EQ(tok.wordpiece("unaffa"), (std::vector<std::string>{"unaff", "##a"}));
  EXPECT_EQ(tok.wordpiece("unx"), std::vector<std::string>{"[UNK]"});  // "##x" missing: whole word unknown
  EXPECT_EQ(tok.wordpiece(std::string(100, 'x')).size(), 1u);          // 100 chars allowed ...
  EXPECT_EQ(tok.wordpiece(std::string(100, 'x'))[0], "[UNK]");         // ... but "##x" is not in vocab
  text::WordPieceOptions opt;
  opt.max_input_chars_per_word = 3;
  const text::WordPieceTokenizer short_tok({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff"}, opt);
  EXPECT_EQ(short_tok.wordpiece("unaff"), std::vector<std::string>{"[UNK]"});
}

TEST(Tokenizer, EncodeTruncatesPadsAndMasks) {
  const auto tok = text::WordPieceTokenizer::from_vocab_file(test::bert_tiny_dir() / "vocab.txt");
  const auto enc = tok.encode({"the liver", "the liver shows a small lesion", ""}, 6);
  ASSERT_EQ(enc.input_ids.sizes().vec(), (std::vector<int64_t>{3, 6}));
  const auto id = [&](const char* t) { return tok.token_id(t); };
  const std::vector<std::vector<int64_t>> expected = {
      {tok.cls_id(), id("the"), id("liver"), tok.sep_id(), tok.pad_id(), tok.pad_id()},
      {tok.cls_id(), id("the"), id("liver"), id("shows"), id("a"), tok.sep_id()},
      {tok.cls_id(), tok.sep_id(), tok.pad_id(), tok.pad_id(), tok.pad_id(), tok.pad_id()}};
  const std::vector<int64_t> lengths = {4, 6, 2};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 6; ++j) {
      EXPECT_EQ(enc.input_ids[i][j].item<int64_t>(), expected[i][j]) << i << "," << j;
      EXPECT_EQ(enc.attention_mask[i][j].item<int64_t>(), j < lengths[i] ? 1 : 0);
    }
  }
  EXPECT_EQ(enc.token_type_ids.sum().item<int64_t>(), 0);
  EXPECT_EQ(tok.encode({"liver"}, 10, /*pad_to_max_length=*/true).input_ids.size(1), 10);
  EXPECT_THROW_MSG(tok.encode({"x"}, 1), "max_length must be >= 2");
}

TEST(Tokenizer, ClearErrorsForBadVocabularies) {
  test::TempDir dir;
  test::write_file(dir / "vocab.txt", "[PAD]\n[CLS]\n[SEP]\nliver\n");
  EXPECT_THROW_MSG(text::WordPieceTokenizer::from_vocab_file(dir / "vocab.txt"),
                   "vocab.txt: WordPiece vocabulary (4 tokens) has no unknown token '[UNK]'");
  EXPECT_THROW_MSG(text::WordPieceTokenizer::from_vocab_file(dir / "missing.txt"), "cannot open vocabulary file");
  test::write_file(dir / "empty.txt", "");
  EXPECT_THROW_MSG(text::WordPieceTokenizer::from_vocab_file(dir / "empty.txt"), "empty.txt is empty");
  const auto tok = text::WordPieceTokenizer::from_vocab_file(test::bert_tiny_dir() / "vocab.txt");
  EXPECT_THROW_MSG(tok.id_token(100000), "token id 100000 out of range [0, ");
}

TEST(Unicode, NormalisationAndCaseMatchPython) {
  // Expected values from Python 3.11's unicodedata / str.lower().
  EXPECT_EQ(u8(uc::nfd(U"\u00e9")), u8(U"e\u0301"));
  EXPECT_EQ(u8(uc::nfc(U"e\u0301")), u8(U"\u00e9"));
  EXPECT_EQ(u8(uc::nfd(U"\u1e69")), u8(U"s\u0323\u0307"));       // ṩ: two marks, canonical order
  EXPECT_EQ(u8(uc::nfc(U"s\u0307\u0323")), u8(U"\u1e69"));       // reordered then composed
  EXPECT_EQ(u8(uc::nfd(U"\uac01")), u8(U"\u1100\u1161\u11a8"));  // Hangul 각
  EXPECT_EQ(u8(uc::nfc(U"\u1100\u1161\u11a8")), u8(U"\uac01"));
  EXPECT_EQ(u8(uc::nfc(U"\u212b")), u8(U"\u00c5"));        // Angstrom sign -> Å (singleton)
  EXPECT_EQ(u8(uc::nfc(U"\uf900")), u8(U"\u8c48"));        // CJK compatibility ideograph
  EXPECT_EQ(u8(uc::nfc(U"\u0344")), u8(U"\u0308\u0301"));  // excluded from composition
  EXPECT_EQ(u8(uc::nfc(U"\u0301e")), u8(U"\u0301e"));      // leading mark stays
  EXPECT_EQ(u8(uc::strip_accents(U"R\u00c9SUM\u00c9 na\u00efve \u00c5")), "RESUME naive A");
  EXPECT_EQ(u8(uc::to_lower(U"\u00c9\u0130\u0178\u03a3\u0416\u1e9e\uff21")),
            u8(U"\u00e9i\u0307\u00ff\u03c3\u0436\u00df\uff41"));
  EXPECT_TRUE(uc::is_punctuation(U'\u00bf'));   // ¿
  EXPECT_TRUE(uc::is_punctuation(U'$'));        // ASCII symbol counts as punctuation for BERT
  EXPECT_FALSE(uc::is_punctuation(U'\u00b0'));  // ° is a symbol (So)
  EXPECT_TRUE(uc::is_control(U'\u200b'));       // zero-width space is Cf
  EXPECT_TRUE(uc::is_control(0x0378));          // unassigned (Cn)
  EXPECT_FALSE(uc::is_control(U'\n'));
  EXPECT_TRUE(uc::is_whitespace(U'\u3000'));
  EXPECT_TRUE(uc::is_cjk(U'\u80dd'));
  EXPECT_EQ(uc::combining_class(0x0301), 230);
  EXPECT_EQ(uc::combining_class(0x0323), 220);
  EXPECT_EQ(uc::combining_class('a'), 0);
}

TEST(Unicode, Utf8DecodingReplacesInvalidBytes) {
  EXPECT_EQ(uc::decode_utf8("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), (std::u32string{U'a', 0xe9, 0x20ac, 0x1f600}));
  EXPECT_EQ(uc::decode_utf8("a\xffz"), (std::u32string{U'a', 0xFFFD, U'z'}));
  EXPECT_EQ(uc::decode_utf8("\xc0\xaf"), (std::u32string{0xFFFD, 0xFFFD}));  // overlong '/'
  EXPECT_EQ(uc::decode_utf8("\xe2\x82"), (std::u32string{0xFFFD, 0xFFFD}));  // truncated
  EXPECT_EQ(uc::encode_utf8(uc::decode_utf8("h\xc3\xa9llo \xe8\x82\x9d")), "h\xc3\xa9llo \xe8\x82\x9d");
  const auto tok = text::WordPieceTokenizer::from_vocab_file(test::bert_tiny_dir() / "vocab.txt");
  EXPECT_EQ(tok.tokenize("liver\xff lesion"), (std::vector<std::string>{"liver", "lesion"}));
}

}  // namespace gtgm
