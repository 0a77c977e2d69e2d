// ModelBundle: a model with everything needed to use it: the model (a models::Model of its task),
// its spec (model_spec.h: config, tokenizers) and its vocabularies, loaded from one checkpoint or
// fresh from training. The task's application classes take one: Translator (translator.h) a
// sequence-to-sequence model, Generator (generator.h) a language model.
//
// Vocabularies by name: "source" (what a sequence-to-sequence model or a classifier of tokens
// reads), "target" (what a sequence-to-sequence model writes; a language model's text). A
// classifier's class names are spec.labels.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "attend/app/model_spec.h"
#include "attend/data/vocab.h"
#include "attend/models/model.h"
#include "attend/models/registry.h"

namespace attend::app {

struct ModelBundle {
  std::unique_ptr<models::Model> model;
  ModelSpec spec;
  std::map<std::string, data::Vocab> vocabs;

  // Loads the config, the vocabularies and the weights; errors "[checkpoint] <path>: ..." name the
  // file. The config is untrusted: the model is built under an allocation budget from the file's
  // size. Each side's vocabulary must be its SentencePiece model's pieces (when it has one) and
  // match the config's sizes. The model is left in inference mode.
  static ModelBundle load(const std::string& checkpoint);
  // Saves the model (weights only, no optimizer), its spec and vocabularies as a checkpoint that
  // load() reads back.
  void save(const std::string& checkpoint) const;

  // The vocabulary called `name`; error naming `what` (the checkpoint) when it has none.
  const data::Vocab& vocab(const std::string& name, const std::string& what = "the model") const;
  // The registry entry of the model's architecture (capabilities: has_attention, source kind).
  const models::ArchitectureInfo& architecture() const { return models::architecture(spec.model->architecture()); }
  // The model as task interface I; error "[<command>] <what> is a language model; <command>
  // needs a sequence-to-sequence model" when it serves another task.
  template <typename I>
  I& as(const std::string& what, const std::string& command) const {
    return models::as_task<I>(*model, what, command);
  }
};

// The vocabularies a checkpoint of `spec`'s task holds, with the sizes its config demands, e.g.
// {{"source", 8000}, {"target", 8000}} (no "source" for a model that reads features).
std::map<std::string, int64_t> expected_vocabs(const ModelSpec& spec);

}  // namespace attend::app
