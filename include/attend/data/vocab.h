// Vocab: token <-> id. Ids 0..3 are the specials <pad>=0, <unk>=1, <s>=2, </s>=3; the rest are
// the corpus tokens with count >= min_freq, most frequent first, ties broken by byte-wise
// lexicographic order, so the same corpus always gives the same ids on every machine.
//
// File format (text, UTF-8), written by save() and read by load():
//   #attend-vocab 1
//   <token>\t<count>          one line per id, specials first (count 0)
// with '\\', '\t', '\n', '\r' in tokens escaped as \\ \t \n \r. Write files with
// io::write_file_atomic(path, [&](std::ostream& os) { vocab.save(os); }).
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace attend::data {

struct VocabOptions {
  int64_t min_freq = 1;  // tokens seen fewer times are left out (they encode to <unk>)
  int64_t max_size = 0;  // total size including the 4 specials; 0 = unlimited
};

struct EncodeOptions {
  bool add_bos = false;  // prepend <s>
  bool add_eos = false;  // append </s>
};

struct DecodeOptions {
  bool strip_special = true;  // drop <pad>, <s>, </s> (not <unk>)
  bool stop_at_eos = true;    // ignore everything after the first </s>
};

class Vocab {
 public:
  static constexpr int64_t kPad = 0, kUnk = 1, kBos = 2, kEos = 3;
  static constexpr std::string_view kPadToken = "<pad>", kUnkToken = "<unk>", kBosToken = "<s>",
                                    kEosToken = "</s>";

  // Only the four specials.
  Vocab();
  // From token counts (e.g. counted over a tokenized corpus).
  static Vocab build(const std::map<std::string, int64_t>& counts, const VocabOptions& options = {});
  // Counts the tokens of `sentences` and builds.
  static Vocab build(const std::vector<std::vector<std::string>>& sentences, const VocabOptions& options = {});
  // The tokens in the given order, ids 0..3 the specials (e.g. a SentencePiece model's pieces, so
  // that a piece's id here is its id there); counts 0. Errors "[Vocab::of_tokens] <source>: ..."
  // name a misplaced special or a duplicate token.
  static Vocab of_tokens(const std::vector<std::string>& tokens, const std::string& source);

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  // Id of `token`, or kUnk.
  int64_t id(std::string_view token) const;
  bool contains(std::string_view token) const { return index_.count(std::string(token)) != 0; }
  // Token of `id`; throws attend::Error("[Vocab::token] ...") when out of range.
  const std::string& token(int64_t id) const;
  int64_t count(int64_t id) const { return counts_.at(static_cast<size_t>(id)); }

  std::vector<int64_t> encode(const std::vector<std::string>& tokens, const EncodeOptions& options = {}) const;
  std::vector<std::string> decode(const std::vector<int64_t>& ids, const DecodeOptions& options = {}) const;

  void save(std::ostream& out) const;
  // `source` names the stream in errors ("[Vocab::load] vocab.txt:12: ...").
  static Vocab read(std::istream& in, const std::string& source);
  static Vocab load(const std::string& path);

  bool operator==(const Vocab& o) const { return tokens_ == o.tokens_ && counts_ == o.counts_; }

 private:
  void add(std::string token, int64_t count, const std::string& source, size_t line);
  std::vector<std::string> tokens_;
  std::vector<int64_t> counts_;
  std::unordered_map<std::string, int64_t> index_;
};

}  // namespace attend::data
