// Subword models as `attend vocab` makes and checks them: train SentencePiece models (one joint
// model over several text files, or one per file) and write PREFIX.model and PREFIX.vocab with a
// summary of what was read and how well the model covers it; encode text lines to pieces or ids and
// decode them back. The CLI only parses options and calls these (data/sentencepiece.h is the model
// itself; model_spec.h says how checkpoints embed one).
//
//   app::train_subwords({.inputs = {"train.de", "train.en"}, .out = "spm",
//                        .options = {.type = data::SentencePieceType::bpe, .vocab_size = 8000}}, std::cerr);
//       -> spm.model, spm.vocab
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "attend/data/sentencepiece.h"

namespace attend::app {

struct SubwordTraining {
  std::vector<std::string> inputs;  // UTF-8 text files, one sentence per line
  std::string out;                  // output prefix
  // One model per input, named by the input's extension (train.de -> PREFIX.de.model) instead of
  // one joint model PREFIX.model.
  bool separate = false;
  data::SentencePieceTrainOptions options;
};

// Trains as asked and writes each model's .model and .vocab files atomically; progress and a
// summary (pieces, seconds, lines, characters; per input the pieces per line and the share of
// <unk> over its first 1000 lines) go to `log`. Returns the .model paths written. Errors
// "[vocab] ..." name a missing input, two --separate inputs of one extension, or pass on
// SentencePiece's reason.
std::vector<std::string> train_subwords(const SubwordTraining& t, std::ostream& log);

// What coding a line means.
enum class SubwordCoding {
  encode_pieces,  // text -> pieces joined by spaces
  encode_ids,     // text -> ids joined by spaces
  decode_pieces,  // pieces separated by whitespace -> text
  decode_ids,     // ids separated by whitespace -> text
};

// One line. Errors "[vocab] 'x' is not an id", "[sentencepiece] ..." (invalid UTF-8, an id out of
// range).
std::string code_subword_line(const data::SentencePiece& sp, SubwordCoding coding, const std::string& line);

// Every line of `in` (a final '\r' dropped) coded to one line of `out`. Errors name the input and
// line: "[vocab] <name>:<line>: ...".
void code_subword_lines(const data::SentencePiece& sp, SubwordCoding coding, std::istream& in, const std::string& name,
                        std::ostream& out);

}  // namespace attend::app
