#pragma once
/// BERT's WordPiece tokenizer, compatible with Hugging Face `BertTokenizer` on a `vocab.txt`:
/// BasicTokenizer (clean-up of control characters and whitespace, CJK ideographs split out, NFC,
/// optional lower-casing and accent stripping, punctuation split) then greedy longest-match-first
/// WordPiece with "##" continuations; words longer than `max_input_chars_per_word` code points or
/// that cannot be covered become [UNK].
///
/// Special tokens ([CLS], [SEP], [PAD], [UNK], [MASK]) written in the text are kept whole when they
/// stand between whitespace (HF also finds them glued to other characters; we do not).
#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace gtgm::text {

struct WordPieceOptions {
  bool lower_case = true;                ///< HF `do_lower_case` (BertTokenizer default: true)
  std::optional<bool> strip_accents;     ///< HF `strip_accents`; unset = follow lower_case
  bool tokenize_chinese_chars = true;    ///< put spaces around CJK ideographs
  int max_input_chars_per_word = 100;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";
};

/// A tokenized batch; every tensor is [N, L] int64 on CPU.
struct Encoding {
  torch::Tensor input_ids;       ///< [N, L] [CLS] tokens [SEP] then [PAD]
  torch::Tensor attention_mask;  ///< [N, L] 1 for real tokens, 0 for padding
  torch::Tensor token_type_ids;  ///< [N, L] zeros (single segment)
};

class WordPieceTokenizer {
 public:
  /// `vocab[i]` is the token of id i (as `vocab.txt` line i). Throws when the special tokens
  /// named in `options` are missing from the vocabulary.
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options = {});
  /// Reads `vocab.txt` (one token per line, id = line number; as HF: only '\n' is stripped).
  static WordPieceTokenizer from_vocab_file(const std::filesystem::path& path, WordPieceOptions options = {});

  /// BasicTokenizer: words and punctuation marks.
  std::vector<std::string> basic_tokenize(const std::string& text) const;
  /// WordPiece of one basic token: e.g. "unaffable" -> {"un", "##aff", "##able"}, or {"[UNK]"}.
  std::vector<std::string> wordpiece(const std::string& word) const;
  /// basic_tokenize then wordpiece (no [CLS]/[SEP]).
  std::vector<std::string> tokenize(const std::string& text) const;
  /// Token ids of `text` with [CLS] ... [SEP], truncated to `max_length` (>= 2) tokens in total.
  std::vector<int64_t> encode_ids(const std::string& text, int max_length) const;
  /// Batch encoding: each text as encode_ids, padded with [PAD] to the longest (or to
  /// `max_length` when `pad_to_max_length`).
  Encoding encode(const std::vector<std::string>& texts, int max_length, bool pad_to_max_length = false) const;

  /// Id of `token`, or the [UNK] id when it is not in the vocabulary.
  int64_t token_id(const std::string& token) const;
  /// Token of id; throws for ids out of range.
  const std::string& id_token(int64_t id) const;
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  int64_t unk_id() const { return unk_id_; }
  int64_t cls_id() const { return cls_id_; }
  int64_t sep_id() const { return sep_id_; }
  int64_t pad_id() const { return pad_id_; }
  const WordPieceOptions& options() const { return options_; }

 private:
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  WordPieceOptions options_;
  std::vector<std::string> never_split_;
  int64_t unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
};

}  // namespace gtgm::text
