// Model configs and sources for tests.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attend/core/source.h"
#include "attend/models/encoder_decoder.h"
#include "attend/models/registry.h"

namespace attend::test {

// A config of architecture `arch` with `values` (key -> text) over its defaults. Keys the
// architecture does not have are skipped, so one map of sizes serves every architecture.
inline std::unique_ptr<models::ModelConfig> model_config(const std::string& arch,
                                                         const std::map<std::string, std::string>& values) {
  return models::make_config(arch, values, /*ignore_unknown=*/true);
}

// The sequence-to-sequence fields of a config (vocabularies, special ids).
inline const models::SequenceToSequenceConfig& seq2seq(const models::ModelConfig& c) {
  return dynamic_cast<const models::SequenceToSequenceConfig&>(c);
}

// A token source as given, unchecked (so that tests reach the checks of the code under test).
inline Source tokens(Index ids, std::vector<int64_t> lengths) {
  Source s;
  s.tokens = std::move(ids);
  s.lengths = std::move(lengths);
  return s;
}

}  // namespace attend::test
