// Tokenizers: character level (one token per UTF-8 code point, spaces included, so decoding is
// exact) and word level (split at whitespace, optionally splitting punctuation off words).
//
// Word level with split_punctuation: every ASCII punctuation character becomes its own token,
// except '-' and '\'' between two letters/digits ("thirty-four", "don't" stay whole):
//   "A man, in a red-shirt." -> ["A", "man", ",", "in", "a", "red-shirt", "."]
// Word-level detokenize joins with single spaces (so punctuation spacing is not restored).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attend::data {

enum class TokenizerKind { character, word };

// "char" / "word" (as written in checkpoints and on the command line); parse throws
// attend::Error("[tokens] unknown tokenizer 'x' (known: char, word)").
TokenizerKind parse_tokenizer_kind(const std::string& name);
const char* tokenizer_kind_name(TokenizerKind kind);

struct TokenizerOptions {
  TokenizerKind kind = TokenizerKind::word;
  bool split_punctuation = true;  // word level only
  bool lowercase = false;         // utf8_lower before splitting (ASCII and Latin-1 letters)
};

class Tokenizer {
 public:
  explicit Tokenizer(const TokenizerOptions& options = {}) : options_(options) {}
  // Throws attend::Error("[tokenize] ...") on invalid UTF-8 (character level).
  std::vector<std::string> tokenize(std::string_view text) const;
  std::string detokenize(const std::vector<std::string>& tokens) const;
  const TokenizerOptions& options() const { return options_; }

 private:
  TokenizerOptions options_;
};

}  // namespace attend::data
