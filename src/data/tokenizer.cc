#include "attend/data/tokenizer.h"

#include "attend/core/error.h"
#include "attend/data/utf8.h"

namespace attend::data {

TokenizerKind parse_tokenizer_kind(const std::string& name) {
  if (name == "char") return TokenizerKind::character;
  if (name == "word") return TokenizerKind::word;
  if (name == "spm") return TokenizerKind::sentencepiece;
  throw Error("tokens", "unknown tokenizer '" + name + "' (known: char, word, spm)");
}

const char* tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::character: return "char";
    case TokenizerKind::word: return "word";
    case TokenizerKind::sentencepiece: return "spm";
  }
  return "?";
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_ascii_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// Non-ASCII bytes (umlauts, accents) count as word characters.
bool is_word_char(char c) { return is_ascii_alnum(c) || static_cast<unsigned char>(c) >= 0x80; }
bool is_ascii_punct(char c) { return c > ' ' && c < 0x7F && !is_ascii_alnum(c); }

const SentencePiece& model_of(const TokenizerOptions& o) {
  ATTEND_CHECK(o.sentencepiece != nullptr, "tokenize", "an spm tokenizer needs a SentencePiece model");
  return *o.sentencepiece;
}

void split_word(std::string_view w, std::vector<std::string>& out) {
  std::string cur;
  for (size_t i = 0; i < w.size(); ++i) {
    const char c = w[i];
    const bool joiner = (c == '-' || c == '\'') && i > 0 && i + 1 < w.size() && is_word_char(w[i - 1]) &&
                        is_word_char(w[i + 1]);
    if (is_ascii_punct(c) && !joiner) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      out.emplace_back(1, c);
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
}

}  // namespace

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  if (options_.lowercase) {
    const std::string lower = utf8_lower(text);
    Tokenizer cased(*this);
    cased.options_.lowercase = false;
    return cased.tokenize(lower);
  }
  if (options_.kind == TokenizerKind::sentencepiece) return model_of(options_).encode_pieces(text);
  if (options_.kind == TokenizerKind::character) {
    if (const auto bad = utf8_invalid_offset(text)) {
      throw Error("tokenize", detail::concat("invalid UTF-8 at byte offset ", *bad));
    }
    return utf8_split(text);
  }
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i == start) break;
    const std::string_view w = text.substr(start, i - start);
    if (options_.split_punctuation) {
      split_word(w, out);
    } else {
      out.emplace_back(w);
    }
  }
  return out;
}

std::string Tokenizer::detokenize(const std::vector<std::string>& tokens) const {
  if (options_.kind == TokenizerKind::sentencepiece) return model_of(options_).decode_pieces(tokens);
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (options_.kind == TokenizerKind::word && i > 0) out.push_back(' ');
    out += tokens[i];
  }
  return out;
}

}  // namespace attend::data
