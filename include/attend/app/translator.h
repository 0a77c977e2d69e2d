// Translator: a sequence-to-sequence model with its vocabularies and tokenizers, loaded from one
// checkpoint, and batched translation of raw sentences (greedy or beam search) that keeps each
// hypothesis's tokens, score and attention matrix. What `attend translate`, `eval` and `show` (and
// training's validation) run; the Python bindings wrap the same calls.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "attend/app/model_bundle.h"
#include "attend/app/model_spec.h"
#include "attend/data/corpus.h"
#include "attend/data/tokenizer.h"
#include "attend/data/vocab.h"
#include "attend/decode/search.h"
#include "attend/models/registry.h"
#include "attend/models/tasks.h"

namespace attend::app {

struct SearchSettings {
  int64_t beam = 5;  // 1 = greedy
  int64_t nbest = 1;
  double alpha = 0.6;
  decode::LengthPenalty length_penalty = decode::LengthPenalty::gnmt;
  double max_len_ratio = 2.0;
  int64_t max_len_offset = 10;
  bool early_stop = false;  // decode::BeamOptions::early_stop
  int64_t batch = 64;      // sentences per search call
  // Inputs are limited so that time and memory stay bounded (a search holds batch * beam rows of
  // states over S source and at most ratio * S + offset target positions): a sentence of more than
  // max_input_tokens source tokens is an error, or with truncate cut to its first max_input_tokens.
  int64_t max_input_tokens = 1024;
  bool truncate = false;
};

struct Translation {
  std::vector<std::string> source_tokens;
  std::vector<decode::Hypothesis> nbest;
  std::vector<std::vector<std::string>> target_tokens;  // per hypothesis, without </s>
  std::vector<std::string> text;                        // per hypothesis, detokenized
};

class Translator {
 public:
  // The bundle's model as a sequence-to-sequence model; otherwise the error "[<command>] <what> is
  // a language model; <command> needs a sequence-to-sequence model".
  explicit Translator(ModelBundle bundle, const std::string& what = "the model", const std::string& command = "translate");
  // ModelBundle::load, then the above with the checkpoint's path as `what`.
  static Translator load(const std::string& checkpoint, const std::string& command = "translate");
  // Saves the model (weights only, no optimizer), its spec and vocabularies as a checkpoint that
  // load() reads back.
  void save(const std::string& checkpoint) const;
  // A translator over a model owned elsewhere (the trainer's), for validation and examples.
  static Translator borrowed(models::SequenceToSequence& model, ModelSpec spec, data::Vocab source_vocab,
                             data::Vocab target_vocab);

  std::vector<int64_t> encode_source(const std::string& sentence) const;
  std::vector<int64_t> encode_target(const std::string& sentence) const;
  std::vector<std::string> target_tokens(const std::vector<int64_t>& ids) const;
  std::string detokenize_target(const std::vector<int64_t>& ids) const;

  // Checks every sentence against s.max_input_tokens before any translation starts; the error names
  // `source` and the 1-based line: "[translate] <source>:<line>: N tokens, more than ...". Nothing
  // to check with s.truncate.
  void check_lengths(const std::vector<std::string>& sentences, const SearchSettings& s,
                     const std::string& source) const;
  // Translates `sentences` in batches; result i belongs to sentence i. A sentence over
  // s.max_input_tokens is cut (s.truncate) or an error naming it.
  std::vector<Translation> translate(const std::vector<std::string>& sentences, const SearchSettings& s) const;

  models::SequenceToSequence& model() const { return *model_; }
  const ModelSpec& spec() const { return spec_; }
  const data::Vocab& source_vocab() const { return source_vocab_; }
  const data::Vocab& target_vocab() const { return target_vocab_; }
  // The registry entry of the model's architecture (capabilities: has_attention, source kind).
  const models::ArchitectureInfo& architecture() const;

 private:
  Translator(ModelSpec spec, data::Vocab source_vocab, data::Vocab target_vocab);
  // Takes the bundle's model, whose task was checked (model is *bundle.model).
  Translator(ModelBundle& bundle, models::SequenceToSequence& model, const std::string& what);
  std::unique_ptr<models::Model> owned_;  // null when borrowed
  models::SequenceToSequence* model_ = nullptr;
  ModelSpec spec_;
  data::Vocab source_vocab_, target_vocab_;
  data::Tokenizer source_tok_, target_tok_;
};

}  // namespace attend::app
