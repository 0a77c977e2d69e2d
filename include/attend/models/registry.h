// The registry of architectures: what `attend train --arch NAME` and every checkpoint loader look
// up. Each architecture registers its name, the task it serves, a factory of its typed config
// (config.h), a factory of the model (a Model of that task, model.h) and its capabilities. Adding
// a model is one file (its config, its model, its ArchitectureInfo) plus one line in
// registry.cc's list of built-ins; a program (or a test) may also register its own at run time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attend/core/rng.h"
#include "attend/core/source.h"
#include "attend/models/config.h"
#include "attend/models/model.h"

namespace attend::models {

struct ArchitectureInfo {
  std::string name;     // "rnnsearch"
  std::string summary;  // one line for --help and listings
  Task task = Task::sequence_to_sequence;  // must be make_config()'s task
  bool has_attention = true;               // has attention weights to draw and align with
  SourceKind source = SourceKind::tokens;  // the sources it encodes
  std::function<std::unique_ptr<ModelConfig>()> make_config;  // defaults
  std::function<std::unique_ptr<Model>(const ModelConfig&, Rng&)> make_model;
};

// The architecture called `name`; error "[models] unknown architecture 'x' (known: ...)".
const ArchitectureInfo& architecture(const std::string& name);
// Every registered name, built-ins first.
std::vector<std::string> architecture_names();
// Adds (or replaces) an architecture. Error "[models] ..." when it lacks a name or a factory, or
// when its config serves another task than `task`.
void register_architecture(ArchitectureInfo info);

// A config of architecture `name` with its defaults.
std::unique_ptr<ModelConfig> make_config(const std::string& name);
// A config of architecture `name` from a text map (ModelConfig::set), validated.
std::unique_ptr<ModelConfig> make_config(const std::string& name, const std::map<std::string, std::string>& values,
                                         bool ignore_unknown = false);
// Builds the model of config.architecture() (after config.validate()), parameters drawn from rng.
std::unique_ptr<Model> make_model(const ModelConfig& config, Rng& rng);

// make_model, as I (a task interface of tasks.h, or a family skeleton such as EncoderDecoder).
// Error "[models] <architecture> is a language model; models needs ..." when it is not one.
template <typename I>
std::unique_ptr<I> make_model_as(const ModelConfig& config, Rng& rng) {
  std::unique_ptr<Model> m = make_model(config, rng);
  auto* typed = dynamic_cast<I*>(m.get());
  ATTEND_CHECK(typed != nullptr, "models", config.architecture(), " is ", task_noun(m->task()),
               ", not the kind of model asked for");
  m.release();
  return std::unique_ptr<I>(typed);
}

}  // namespace attend::models
