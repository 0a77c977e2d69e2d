// Tokenizers: character level (one token per UTF-8 code point, spaces included, so decoding is
// exact), word level (split at whitespace, optionally splitting punctuation off words) and subword
// level (a SentencePiece model's pieces, "▁A", "▁man", ...; data/sentencepiece.h).
//
// Word level with split_punctuation: every ASCII punctuation character becomes its own token,
// except '-' and '\'' between two letters/digits ("thirty-four", "don't" stay whole):
//   "A man, in a red-shirt." -> ["A", "man", ",", "in", "a", "red-shirt", "."]
// Word-level detokenize joins with single spaces (so punctuation spacing is not restored);
// subword-level detokenize is SentencePiece's decode ("▁" becomes a space: the text comes back).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attend/data/sentencepiece.h"

namespace attend::data {

enum class TokenizerKind { character, word, sentencepiece };

// "char" / "word" / "spm" (as written in checkpoints and on the command line); parse throws
// attend::Error("[tokens] unknown tokenizer 'x' (known: char, word, spm)").
TokenizerKind parse_tokenizer_kind(const std::string& name);
const char* tokenizer_kind_name(TokenizerKind kind);

struct TokenizerOptions {
  TokenizerKind kind = TokenizerKind::word;
  bool split_punctuation = true;  // word level only
  bool lowercase = false;         // utf8_lower before splitting (ASCII and Latin-1 letters)
  // The model of kind sentencepiece (required there: tokenize/detokenize throw "[tokenize] ..."
  // without one); shared, never modified.
  std::shared_ptr<const SentencePiece> sentencepiece = nullptr;
};

class Tokenizer {
 public:
  explicit Tokenizer(const TokenizerOptions& options = {}) : options_(options) {}
  // Throws attend::Error("[tokenize] ...") on invalid UTF-8 (character level), "[sentencepiece]
  // ..." on invalid UTF-8 (subword level).
  std::vector<std::string> tokenize(std::string_view text) const;
  std::string detokenize(const std::vector<std::string>& tokens) const;
  const TokenizerOptions& options() const { return options_; }

 private:
  TokenizerOptions options_;
};

}  // namespace attend::data
