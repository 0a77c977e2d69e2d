// The registry of architectures: what `attend train --arch NAME` and every checkpoint loader look
// up. Each architecture registers its name, a factory of its typed config (config.h), a factory
// of the model and its capabilities. Adding a model is one file (its config, its model, its
// ArchitectureInfo) plus one line in registry.cc's list of built-ins; a program may also
// register its own at run time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attend/core/rng.h"
#include "attend/core/source.h"
#include "attend/models/config.h"
#include "attend/models/encoder_decoder.h"

namespace attend::models {

struct ArchitectureInfo {
  std::string name;     // "rnnsearch"
  std::string summary;  // one line for --help and listings
  bool has_attention = true;               // has attention weights to draw and align with
  SourceKind source = SourceKind::tokens;  // the sources it encodes
  std::function<std::unique_ptr<ModelConfig>()> make_config;  // defaults
  std::function<std::unique_ptr<EncoderDecoder>(const ModelConfig&, Rng&)> make_model;
};

// The architecture called `name`; error "[models] unknown architecture 'x' (known: ...)".
const ArchitectureInfo& architecture(const std::string& name);
// Every registered name, built-ins first.
std::vector<std::string> architecture_names();
// Adds (or replaces) an architecture.
void register_architecture(ArchitectureInfo info);

// A config of architecture `name` with its defaults.
std::unique_ptr<ModelConfig> make_config(const std::string& name);
// A config of architecture `name` from a text map (ModelConfig::set), validated.
std::unique_ptr<ModelConfig> make_config(const std::string& name, const std::map<std::string, std::string>& values,
                                         bool ignore_unknown = false);
// Builds the model of config.architecture() (after config.validate()), parameters drawn from rng.
std::unique_ptr<EncoderDecoder> make_model(const ModelConfig& config, Rng& rng);

}  // namespace attend::models
