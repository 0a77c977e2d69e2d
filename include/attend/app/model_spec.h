// ModelSpec: everything a checkpoint says about its model besides the weights: the architecture's
// typed config (models/registry.h), its task, how text becomes tokens on each side the task has,
// and lowercasing. It is the checkpoint's "model_config" metadata, as JSON:
//
//   {"format": 3, "task": "sequence-to-sequence" | "classification" | "language-model",
//    "model": {"architecture": "luong", "hidden_dim": 128, "score": "general", ...},
//    "source_tokens": "char" | "word" | "spm", "target_tokens": ..., "lowercase": false,
//    "joint_spm": true}                         (only when both sides use one SentencePiece model)
//
// The sides: a sequence-to-sequence model reads the source and writes the target; a classifier
// reads the source; a language model reads and writes the target side (its text). A side the task
// lacks is absent. A classifier's class names (and the article names an image captioner was
// trained to name) are the metadata "extra.labels", a JSON array in
// class order.
//
// A side of kind "spm" tokenizes with a SentencePiece model whose bytes the checkpoint holds
// beside the weights, base64-encoded in the metadata "extra.sentencepiece.source" and
// "extra.sentencepiece.target" (only "source" for a joint model): a checkpoint translates without
// the .model file it was trained with. That side's vocabulary is the model's pieces in the model's
// id order (spm_vocab), so the ids the network sees are SentencePiece's own ids.
//
// The model's keys and their types come from the architecture's field table (models/config.h):
// integers and reals as JSON numbers, booleans as JSON booleans, choices as strings. Format 2 (no
// "task": every model was a sequence-to-sequence model) wrote booleans as 0 and 1; the first
// format (no "format" key) stored every value as a string and every architecture's keys in one
// flat map. Both still load (keys the architecture does not have are ignored in the first format,
// and only there).
#pragma once

#include <memory>
#include <string>

#include "attend/data/tokenizer.h"
#include "attend/data/vocab.h"
#include "attend/models/config.h"
#include "attend/train/checkpoint.h"

namespace attend::app {

// Whether the task has a source side (what the model reads besides its own output) and a target
// side (what it writes).
bool has_source_side(models::Task task);
bool has_target_side(models::Task task);

struct ModelSpec {
  std::shared_ptr<const models::ModelConfig> model;
  data::TokenizerKind source_tokens = data::TokenizerKind::word;
  data::TokenizerKind target_tokens = data::TokenizerKind::word;
  bool lowercase = false;  // both sides lowercased before tokenizing (utf8_lower)
  // The SentencePiece models of the sides of kind spm (null for the others); one shared model for a
  // joint one.
  std::shared_ptr<const data::SentencePiece> source_spm, target_spm;
  std::vector<std::string> labels;  // a classifier's class names, in class order (a captioner's article names)

  data::Tokenizer source_tokenizer() const {
    return data::Tokenizer({.kind = source_tokens, .lowercase = lowercase, .sentencepiece = source_spm});
  }
  data::Tokenizer target_tokenizer() const {
    return data::Tokenizer({.kind = target_tokens, .lowercase = lowercase, .sentencepiece = target_spm});
  }
  // A reference sentence as this model's output is scored against it: lowercased when the model is.
  std::string reference_form(const std::string& reference) const;

  std::string to_json() const;
  // `source` (the checkpoint's path) prefixes every error: "[checkpoint] <source>: model_config ...".
  static ModelSpec from_json(const std::string& json, const std::string& source);

  // The spec as a checkpoint stores it: model_config (to_json) and, for spm sides, the
  // SentencePiece models in info.extra.
  void to_checkpoint(train::CheckpointInfo& info) const;
  // The spec of a checkpoint's metadata, SentencePiece models included. A missing or corrupt model
  // is an error naming the checkpoint: "[checkpoint] <source>: sentencepiece.source: ...".
  static ModelSpec from_checkpoint(const train::CheckpointInfo& info, const std::string& source);
};

// The vocabulary of a side tokenized by `sp`: its pieces in its id order (ids 0-3 must be <pad>
// <unk> <s> </s>, as `attend vocab` makes them; otherwise an error naming `what`).
data::Vocab spm_vocab(const data::SentencePiece& sp, const std::string& what);

}  // namespace attend::app
