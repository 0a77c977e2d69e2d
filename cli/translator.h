// What train, translate, eval and show share: a model with its vocabularies and tokenizers, loaded
// from one checkpoint, and batched translation of raw sentences (greedy or beam search) that keeps
// each hypothesis's tokens, score and attention matrix.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attend/data/corpus.h"
#include "attend/data/tokenizer.h"
#include "attend/data/vocab.h"
#include "attend/decode/search.h"
#include "attend/models/seq2seq.h"
#include "attend/train/checkpoint.h"

namespace attend::cli {

// The checkpoint's model_config: the model's config map plus the tokenizer kinds, as JSON.
struct ModelSpec {
  models::Seq2SeqConfig model;
  data::TokenizerKind source_tokens = data::TokenizerKind::word;
  data::TokenizerKind target_tokens = data::TokenizerKind::word;
  bool lowercase = false;  // both sides lowercased before tokenizing (utf8_lower)
  data::Tokenizer source_tokenizer() const { return data::Tokenizer({.kind = source_tokens, .lowercase = lowercase}); }
  data::Tokenizer target_tokenizer() const { return data::Tokenizer({.kind = target_tokens, .lowercase = lowercase}); }
  // A reference sentence as this model's output is scored against it: lowercased when the model is.
  std::string reference_form(const std::string& reference) const;
  std::string to_json() const;
  static ModelSpec from_json(const std::string& json, const std::string& source);
};

data::TokenizerKind parse_tokenizer_kind(const std::string& s);
const char* tokenizer_kind_name(data::TokenizerKind k);

struct SearchSettings {
  int64_t beam = 5;  // 1 = greedy
  int64_t nbest = 1;
  double alpha = 0.6;
  decode::LengthPenalty length_penalty = decode::LengthPenalty::gnmt;
  double max_len_ratio = 2.0;
  int64_t max_len_offset = 10;
  int64_t batch = 64;  // sentences per search call
};

struct Translation {
  std::vector<std::string> source_tokens;
  std::vector<decode::Hypothesis> nbest;
  std::vector<std::vector<std::string>> target_tokens;  // per hypothesis, without </s>
  std::vector<std::string> text;                        // per hypothesis, detokenized
};

class Translator {
 public:
  Translator(std::unique_ptr<models::Seq2SeqModel> model, ModelSpec spec, data::Vocab source_vocab,
             data::Vocab target_vocab);
  // Loads weights, config and vocabularies; errors name the file.
  static Translator load(const std::string& checkpoint);
  // A translator over a model owned elsewhere (the trainer's), for validation and examples.
  static Translator borrowed(models::Seq2SeqModel& model, ModelSpec spec, data::Vocab source_vocab,
                             data::Vocab target_vocab);

  std::vector<int64_t> encode_source(const std::string& sentence) const;
  std::vector<int64_t> encode_target(const std::string& sentence) const;
  std::vector<std::string> target_tokens(const std::vector<int64_t>& ids) const;
  std::string detokenize_target(const std::vector<int64_t>& ids) const;

  // Translates `sentences` in batches; result i belongs to sentence i.
  std::vector<Translation> translate(const std::vector<std::string>& sentences, const SearchSettings& s) const;

  models::Seq2SeqModel& model() const { return *model_; }
  const ModelSpec& spec() const { return spec_; }
  const data::Vocab& source_vocab() const { return source_vocab_; }
  const data::Vocab& target_vocab() const { return target_vocab_; }

 private:
  std::unique_ptr<models::Seq2SeqModel> owned_;  // null when borrowed
  models::Seq2SeqModel* model_;
  ModelSpec spec_;
  data::Vocab source_vocab_, target_vocab_;
  data::Tokenizer source_tok_, target_tok_;
};

}  // namespace attend::cli
