// SentencePiece subword models (Kudo and Richardson 2018) through Debian's libsentencepiece:
// load a model from a file or from its serialized bytes, encode text to pieces or ids, decode them
// back to detokenized text, and train BPE or unigram models from text files.
//
// How attend is meant to use it (the Transformer on Multi30k, issue 11): `attend vocab` trains a
// model on the training files (one joint model for both languages, or one per language); training
// reads that .model file once and stores its bytes (serialized()) in the checkpoint beside the
// weights, so a checkpoint alone can translate: translate/eval rebuild the tokenizer with
// from_serialized(bytes), encode source lines to ids, decode the search's ids to detokenized text,
// and score that text with corpus_bleu/corpus_chrf (train/metrics.h) against raw references.
//
// Ids: models trained here put attend's specials at attend's ids (data/vocab.h):
// <pad> = 0, <unk> = 1, <s> = 2, </s> = 3, then the subword pieces. Models trained elsewhere keep
// their own ids (pad may be absent: pad_id() is then -1).
//
// Text is normalized by the model's rule (NFKC plus whitespace folding, "nmt_nfkc", by default):
// decode(encode(x)) == x for text that is already NFKC-normal with single spaces and no leading or
// trailing space, whose characters the model covers (character_coverage; characters outside it
// encode to <unk> and decode to " ⁇ " unless the model was trained with byte_fallback).
//
// A SentencePiece is immutable after loading; copies share the model, and every const method may
// be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace attend::data {

enum class SentencePieceType { bpe, unigram };

// "bpe" / "unigram"; parse_sentencepiece_type throws attend::Error("[sentencepiece] ...") on
// anything else.
std::string sentencepiece_type_name(SentencePieceType type);
SentencePieceType parse_sentencepiece_type(std::string_view name);

struct SentencePieceTrainOptions {
  SentencePieceType type = SentencePieceType::unigram;
  int64_t vocab_size = 8000;         // pieces in all, the 4 specials included
  double character_coverage = 1.0;   // share of the characters covered; 0.9995 for large alphabets
  bool byte_fallback = false;        // uncovered characters become <0xXX> byte pieces (lossless)
  std::string normalization = "nmt_nfkc";  // or "identity", "nfkc", "nmt_nfkc_cf", "nfkc_cf"
  int64_t max_sentences = 0;         // train on at most this many lines (a seeded sample); 0 = all
  int64_t max_sentence_bytes = 4192; // longer lines are skipped (SentencePiece's default)
  int num_threads = 1;
  uint32_t seed = 1;                 // for the sample of max_sentences
};

// What training read and made.
struct SentencePieceTrainReport {
  std::vector<std::string> inputs;
  std::vector<int64_t> lines;  // lines read per input (empty lines included)
  int64_t characters = 0;      // code points read
  double seconds = 0.0;
};

class SentencePiece {
 public:
  // Loads a .model file. Errors "[sentencepiece] <path>: cannot open ..." for a missing or
  // unreadable file, "[sentencepiece] <path>: not a valid SentencePiece model (...)" for a corrupt
  // or truncated one.
  static SentencePiece load(const std::string& path);
  // Loads a model from the bytes of a .model file (as serialized() returns them); `what` names
  // their origin in errors ("m.ckpt: sentencepiece.source").
  static SentencePiece from_serialized(std::string_view bytes, const std::string& what = "serialized model");

  // Trains a model on the lines of `inputs` (UTF-8 text files, one sentence per line; several files
  // for one joint model) and returns it; write it with serialized(). Errors name the input file
  // that is missing, the file:line that is not valid UTF-8, or SentencePiece's reason (e.g. a
  // vocabulary too large for the text). `report`, when given, receives what was read.
  static SentencePiece train(const std::vector<std::string>& inputs, const SentencePieceTrainOptions& options,
                             SentencePieceTrainReport* report = nullptr);

  // The model file's bytes: load(path).serialized() is the file's content, byte for byte.
  std::string serialized() const;

  // Text (UTF-8) -> pieces ("▁A", "▁man", ...) or ids. Errors "[sentencepiece] ..." on invalid UTF-8.
  std::vector<std::string> encode_pieces(std::string_view text) const;
  std::vector<int64_t> encode_ids(std::string_view text) const;
  // Pieces or ids -> detokenized text ("▁" becomes a space, the leading one dropped). Control
  // pieces (<s>, </s>, <pad>) decode to nothing; an id outside [0, vocab_size()) is an error.
  std::string decode_pieces(const std::vector<std::string>& pieces) const;
  std::string decode_ids(const std::vector<int64_t>& ids) const;

  int64_t vocab_size() const;
  // The id of `piece`, or unk_id() when the model has no such piece.
  int64_t piece_to_id(std::string_view piece) const;
  // Error "[sentencepiece] id ... is outside [0, vocab_size)".
  const std::string& id_to_piece(int64_t id) const;
  // The piece's log probability (unigram) or merge rank score (bpe), as in the .vocab file.
  float score(int64_t id) const;
  bool is_control(int64_t id) const;  // <s>, </s>, <pad>
  bool is_unknown(int64_t id) const;
  int64_t pad_id() const;  // -1 when the model has none
  int64_t unk_id() const;
  int64_t bos_id() const;
  int64_t eos_id() const;
  // The .vocab text SentencePiece writes beside a model: "piece\tscore\n" per id.
  std::string vocab_text() const;

 private:
  explicit SentencePiece(std::shared_ptr<const sentencepiece::SentencePieceProcessor> sp, std::string what)
      : sp_(std::move(sp)), what_(std::move(what)) {}
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> sp_;
  std::string what_;  // the file or origin, for messages
};

}  // namespace attend::data
