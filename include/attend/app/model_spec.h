// ModelSpec: everything a checkpoint says about its model besides the weights: the architecture's
// typed config (models/registry.h), how text becomes tokens on each side, and lowercasing. It is
// the checkpoint's "model_config" metadata, as JSON:
//
//   {"format": 2,
//    "model": {"architecture": "luong", "hidden_dim": 128, "score": "general", ...},
//    "source_tokens": "char" | "word", "target_tokens": "char" | "word", "lowercase": false}
//
// The model's keys and their types come from the architecture's field table (models/config.h):
// integers and reals as JSON numbers, choices as strings. Checkpoints of the first format (no
// "format" key) stored every value as a string and every architecture's keys in one flat map;
// they still load (keys the architecture does not have are ignored there, and only there).
#pragma once

#include <memory>
#include <string>

#include "attend/data/tokenizer.h"
#include "attend/models/config.h"

namespace attend::app {

struct ModelSpec {
  std::shared_ptr<const models::ModelConfig> model;
  data::TokenizerKind source_tokens = data::TokenizerKind::word;
  data::TokenizerKind target_tokens = data::TokenizerKind::word;
  bool lowercase = false;  // both sides lowercased before tokenizing (utf8_lower)

  data::Tokenizer source_tokenizer() const { return data::Tokenizer({.kind = source_tokens, .lowercase = lowercase}); }
  data::Tokenizer target_tokenizer() const { return data::Tokenizer({.kind = target_tokens, .lowercase = lowercase}); }
  // A reference sentence as this model's output is scored against it: lowercased when the model is.
  std::string reference_form(const std::string& reference) const;

  std::string to_json() const;
  // `source` (the checkpoint's path) prefixes every error: "[checkpoint] <source>: model_config ...".
  static ModelSpec from_json(const std::string& json, const std::string& source);
};

}  // namespace attend::app
