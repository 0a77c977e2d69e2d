// The checkpoint file's layout (train/checkpoint.h) shared by the two halves of its code:
// checkpoint_info.cc reads the metadata from bytes and needs only the io and data layers (so the
// fuzz harness in tests/fuzz links it without the model stack); checkpoint.cc saves and loads
// weights and optimizer state. Internal: not installed, not part of the API.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "attend/io/safetensors.h"
#include "attend/train/checkpoint.h"

namespace attend::train::checkpoint_format {

inline constexpr const char* kFormat = "attend-checkpoint/1";
inline constexpr const char* kModelPrefix = "model.";
inline constexpr const char* kOptimPrefix = "optim.";
inline constexpr const char* kVocabPrefix = "vocab.";
inline constexpr const char* kExtraPrefix = "extra.";

inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// JSON has no NaN/Inf: those are written as the strings "nan", "inf", "-inf".
nlohmann::json encode_double(double v);
// Error "[load_checkpoint] <where> is not a number: ..." for anything else.
double decode_double(const nlohmann::json& j, const std::string& where);

nlohmann::json trainer_to_json(const TrainerState& s);

// Parses metadata entry `key` of file `path` as JSON; every JSON error becomes
// "[load_checkpoint] <path>: metadata '<key>' is not JSON: ...".
nlohmann::json parse_metadata_json(const std::string& text, const std::string& path, const std::string& key);

// The metadata part of a decoded file; errors "[load_checkpoint] <path>: ..." (a vocabulary's
// own errors name "<path>:vocab.<name>:<line>").
CheckpointInfo info_from(const io::SafetensorsContents& c, const std::string& path);

// io::load_safetensors with its errors prefixed "[load_checkpoint] ".
io::SafetensorsContents read_contents(const std::string& path);

}  // namespace attend::train::checkpoint_format
