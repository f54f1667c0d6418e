#include "gtgm/text/tokenizer.h"

#include <algorithm>
#include <fstream>

#include "gtgm/core/error.h"
#include "gtgm/text/unicode.h"

namespace gtgm::text {
namespace uc = unicode;
namespace {

/// Python's `str.split()` on code points.
std::vector<std::u32string> split_python_space(const std::u32string& text) {
  std::vector<std::u32string> out;
  std::u32string cur;
  for (char32_t cp : text) {
    if (uc::is_python_space(cp)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(cp);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  GTGM_CHECK(!vocab_.empty(), "WordPiece vocabulary is empty");
  GTGM_CHECK(options_.max_input_chars_per_word > 0, "max_input_chars_per_word must be > 0, got {}",
             options_.max_input_chars_per_word);
  // As HF's load_vocab (a dict): a repeated token keeps the id of its last line.
  for (size_t i = 0; i < vocab_.size(); ++i) ids_[vocab_[i]] = static_cast<int64_t>(i);
  auto required = [&](const std::string& token, const char* role) {
    const auto it = ids_.find(token);
    GTGM_CHECK(it != ids_.end(), "WordPiece vocabulary ({} tokens) has no {} token '{}'", vocab_.size(), role, token);
    return it->second;
  };
  unk_id_ = required(options_.unk_token, "unknown");
  cls_id_ = required(options_.cls_token, "classifier");
  sep_id_ = required(options_.sep_token, "separator");
  pad_id_ = required(options_.pad_token, "padding");
  never_split_ = {options_.unk_token, options_.cls_token, options_.sep_token, options_.pad_token, options_.mask_token};
}

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const std::filesystem::path& path, WordPieceOptions options) {
  std::ifstream in(path, std::ios::binary);
  GTGM_CHECK(in.good(), "cannot open vocabulary file {}", path.string());
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(in, line)) vocab.push_back(line);  // getline strips only '\n', like rstrip("\n")
  GTGM_CHECK(!vocab.empty(), "vocabulary file {} is empty", path.string());
  try {
    return WordPieceTokenizer(std::move(vocab), std::move(options));
  } catch (const Error& e) {
    GTGM_THROW("{}: {}", path.string(), e.message());
  }
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(const std::string& text) const {
  // _clean_text: drop NUL, U+FFFD and control characters; whitespace becomes ' '.
  std::u32string cleaned;
  for (char32_t cp : uc::decode_utf8(text)) {
    if (cp == 0 || cp == 0xFFFD || uc::is_control(cp)) continue;
    if (uc::is_whitespace(cp)) {
      cleaned.push_back(' ');
    } else if (options_.tokenize_chinese_chars && uc::is_cjk(cp)) {
      cleaned += U' ';
      cleaned.push_back(cp);
      cleaned += U' ';
    } else {
      cleaned.push_back(cp);
    }
  }
  const bool strip = options_.strip_accents.value_or(options_.lower_case);
  std::u32string joined;  // split tokens joined by ' ', re-split at the end as HF does
  for (auto& token : split_python_space(uc::nfc(cleaned))) {
    const std::string utf8 = uc::encode_utf8(token);
    if (std::find(never_split_.begin(), never_split_.end(), utf8) != never_split_.end()) {
      joined += token;
      joined += U' ';
      continue;
    }
    if (options_.lower_case) token = uc::to_lower(token);
    if (strip) token = uc::strip_accents(token);
    // _run_split_on_punc: every punctuation character is a token of its own.
    for (char32_t cp : token) {
      if (uc::is_punctuation(cp)) {
        joined += U' ';
        joined.push_back(cp);
        joined += U' ';
      } else {
        joined.push_back(cp);
      }
    }
    joined += U' ';
  }
  std::vector<std::string> out;
  for (const auto& t : split_python_space(joined)) out.push_back(uc::encode_utf8(t));
  return out;
}

std::vector<std::string> WordPieceTokenizer::wordpiece(const std::string& word) const {
  const std::u32string chars = uc::decode_utf8(word);
  if (static_cast<int>(chars.size()) > options_.max_input_chars_per_word) return {options_.unk_token};
  // Byte offset of each code point so substrings are plain std::string slices.
  std::vector<size_t> offset(chars.size() + 1, 0);
  for (size_t i = 0; i < chars.size(); ++i) {
    const char32_t c = chars[i];
    offset[i + 1] = offset[i] + (c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4);
  }
  const std::string bytes = uc::encode_utf8(chars);
  std::vector<std::string> pieces;
  size_t start = 0;
  while (start < chars.size()) {
    size_t end = chars.size();
    std::string found;
    while (start < end) {
      std::string sub = bytes.substr(offset[start], offset[end] - offset[start]);
      if (start > 0) sub = "##" + sub;
      if (ids_.count(sub)) {
        found = std::move(sub);
        break;
      }
      --end;
    }
    if (found.empty()) return {options_.unk_token};
    pieces.push_back(std::move(found));
    start = end;
  }
  return pieces;
}

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (const auto& word : basic_tokenize(text)) {
    if (std::find(never_split_.begin(), never_split_.end(), word) != never_split_.end()) {
      out.push_back(word);
      continue;
    }
    for (auto& piece : wordpiece(word)) out.push_back(std::move(piece));
  }
  return out;
}

std::vector<int64_t> WordPieceTokenizer::encode_ids(const std::string& text, int max_length) const {
  GTGM_CHECK(max_length >= 2, "max_length must be >= 2 to hold [CLS] and [SEP], got {}", max_length);
  const auto tokens = tokenize(text);
  std::vector<int64_t> ids{cls_id_};
  const size_t keep = std::min(tokens.size(), static_cast<size_t>(max_length - 2));
  for (size_t i = 0; i < keep; ++i) ids.push_back(token_id(tokens[i]));
  ids.push_back(sep_id_);
  return ids;
}

Encoding WordPieceTokenizer::encode(const std::vector<std::string>& texts, int max_length,
                                    bool pad_to_max_length) const {
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  size_t longest = 0;
  for (const auto& t : texts) {
    rows.push_back(encode_ids(t, max_length));
    longest = std::max(longest, rows.back().size());
  }
  const int64_t n = static_cast<int64_t>(texts.size());
  const int64_t len = pad_to_max_length ? max_length : static_cast<int64_t>(longest);
  Encoding enc;
  enc.input_ids = torch::full({n, len}, pad_id_, torch::kInt64);
  enc.attention_mask = torch::zeros({n, len}, torch::kInt64);
  enc.token_type_ids = torch::zeros({n, len}, torch::kInt64);
  auto ids = enc.input_ids.accessor<int64_t, 2>();
  auto mask = enc.attention_mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < rows[i].size(); ++j) {
      ids[i][j] = rows[i][j];
      mask[i][j] = 1;
    }
  }
  return enc;
}

int64_t WordPieceTokenizer::token_id(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? unk_id_ : it->second;
}

const std::string& WordPieceTokenizer::id_token(int64_t id) const {
  GTGM_CHECK(id >= 0 && id < vocab_size(), "token id {} out of range [0, {})", id, vocab_size());
  return vocab_[id];
}

}  // namespace gtgm::text
