#include "attend/app/model_spec.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iterator>
#include <sstream>
#include <string_view>
#include <tuple>

#include "attend/data/utf8.h"
#include "attend/io/base64.h"
#include "attend/models/registry.h"

namespace attend::app {

namespace {

constexpr int kFormat = 3;

// The model's fields as JSON values of their kind.
nlohmann::json model_json(const models::ModelConfig& config) {
  nlohmann::json j;
  j["architecture"] = config.architecture();
  std::unique_ptr<models::ModelConfig> copy = config.clone();
  for (const models::Field& f : copy->fields()) {
    const std::string text = f.get();
    switch (f.kind) {
      case models::Field::Kind::integer: j[f.key] = std::stoll(text); break;
      case models::Field::Kind::real: j[f.key] = std::stod(text); break;
      case models::Field::Kind::choice: j[f.key] = text; break;
      case models::Field::Kind::boolean: j[f.key] = text == "true"; break;
      case models::Field::Kind::text: j[f.key] = text; break;
    }
  }
  return j;
}

// A JSON value as the text a Field parses; strings as they are (the first format's values).
std::string field_text(const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return v.dump();
  if (v.is_number_float()) {
    std::ostringstream os;
    os.precision(17);
    os << v.get<double>();
    return os.str();
  }
  throw Error("checkpoint", "key '" + key + "' has a " + std::string(v.type_name()) + " value");
}


constexpr const char* kSpmKey = "sentencepiece.";
constexpr const char* kLabelsKey = "labels";

}  // namespace

bool has_source_side(models::Task task) { return task != models::Task::language_model; }
bool has_target_side(models::Task task) { return task != models::Task::classification; }

std::string ModelSpec::reference_form(const std::string& reference) const {
  return lowercase ? data::utf8_lower(reference) : reference;
}

std::string ModelSpec::to_json() const {
  ATTEND_CHECK(model != nullptr, "ModelSpec", "no model config");
  nlohmann::json j;
  const models::Task task = model->task();
  j["format"] = kFormat;
  j["task"] = models::task_name(task);
  j["model"] = model_json(*model);
  if (has_source_side(task)) j["source_tokens"] = data::tokenizer_kind_name(source_tokens);
  if (has_target_side(task)) j["target_tokens"] = data::tokenizer_kind_name(target_tokens);
  j["lowercase"] = lowercase;
  if (source_spm != nullptr && source_spm == target_spm) j["joint_spm"] = true;
  return j.dump();
}

ModelSpec ModelSpec::from_json(const std::string& json, const std::string& source) {
  const std::string where = source + ": model_config";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint", where + " is not JSON: " + e.what());
  }
  ATTEND_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), "checkpoint", where, " lacks model");
  ModelSpec s;
  try {
    // Compared as the JSON value, not after a narrowing get<int>() (4294967297 is not format 1).
    const nlohmann::json format_value = j.contains("format") ? j["format"] : nlohmann::json(1);
    ATTEND_CHECK(format_value == 1 || format_value == 2 || format_value == kFormat, "checkpoint", "format ",
                 format_value.is_number() ? format_value.dump() : std::string("of type ") + format_value.type_name(),
                 " is not one this attend reads (1, 2 or ", kFormat, ")");
    const int format = format_value == 1 ? 1 : format_value == 2 ? 2 : kFormat;
    // Formats 1 and 2 knew one task.
    models::Task task = models::Task::sequence_to_sequence;
    if (format == kFormat) {
      ATTEND_CHECK(j.contains("task") && j["task"].is_string(), "checkpoint", "lacks 'task'");
      task = models::parse_task_name(j["task"].get<std::string>());
    }
    const nlohmann::json& m = j["model"];
    ATTEND_CHECK(m.contains("architecture") && m["architecture"].is_string(), "checkpoint",
                 "model lacks 'architecture'");
    std::map<std::string, std::string> values;
    for (const auto& [key, value] : m.items()) values[key] = field_text(key, value);
    s.model = models::make_config(m["architecture"].get<std::string>(), values, /*ignore_unknown=*/format == 1);
    ATTEND_CHECK(s.model->task() == task, "checkpoint", "task '", models::task_name(task), "', but architecture '",
                 s.model->architecture(), "' serves ", models::task_name(s.model->task()));
    for (const auto& [side, kind, present] :
         {std::tuple{"source_tokens", &s.source_tokens, has_source_side(task)},
          std::tuple{"target_tokens", &s.target_tokens, has_target_side(task)}}) {
      if (!present) continue;
      ATTEND_CHECK(j.contains(side) && j[side].is_string(), "checkpoint", "lacks '", side, "'");
      *kind = data::parse_tokenizer_kind(j[side].get<std::string>());
    }
    s.lowercase = j.value("lowercase", false);
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint", where + ": " + e.what());
  } catch (const Error& e) {
    std::string what = e.what();
    const std::string prefix = "[" + e.op() + "] ";
    if (what.starts_with(prefix)) what.erase(0, prefix.size());
    throw Error("checkpoint", where + ": " + what);
  }
  return s;
}

void ModelSpec::to_checkpoint(train::CheckpointInfo& info) const {
  info.model_config = to_json();
  for (auto it = info.extra.begin(); it != info.extra.end();)
    it = it->first.starts_with(kSpmKey) ? info.extra.erase(it) : std::next(it);
  if (source_tokens == data::TokenizerKind::sentencepiece) {
    ATTEND_CHECK(source_spm != nullptr, "ModelSpec", "source_tokens spm without a SentencePiece model");
    info.extra[std::string(kSpmKey) + "source"] = io::base64_encode(source_spm->serialized());
  }
  if (target_tokens == data::TokenizerKind::sentencepiece && target_spm != source_spm) {
    ATTEND_CHECK(target_spm != nullptr, "ModelSpec", "target_tokens spm without a SentencePiece model");
    info.extra[std::string(kSpmKey) + "target"] = io::base64_encode(target_spm->serialized());
  }
  info.extra.erase(kLabelsKey);
  if (model->task() == models::Task::classification || !labels.empty())
    info.extra[kLabelsKey] = nlohmann::json(labels).dump();
}

ModelSpec ModelSpec::from_checkpoint(const train::CheckpointInfo& info, const std::string& source) {
  ModelSpec s = from_json(info.model_config, source);
  bool joint = false;
  try {
    joint = nlohmann::json::parse(info.model_config).value("joint_spm", false);
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint", source + ": model_config: " + e.what());
  }
  auto model = [&](const std::string& side) {
    const std::string key = kSpmKey + side, what = source + ": " + key;
    const auto it = info.extra.find(key);
    ATTEND_CHECK(it != info.extra.end(), "checkpoint", source, ": ", side,
                 "_tokens is spm but the checkpoint holds no SentencePiece model (metadata extra.", key, ")");
    try {
      return std::make_shared<const data::SentencePiece>(
          data::SentencePiece::from_serialized(io::base64_decode(it->second, what), what));
    } catch (const Error& e) {
      if (e.op() == "checkpoint") throw;
      throw Error("checkpoint", std::string(e.what()));  // "[checkpoint] [sentencepiece] <what>: ..."
    }
  };
  if (s.source_tokens == data::TokenizerKind::sentencepiece) s.source_spm = model("source");
  if (s.target_tokens == data::TokenizerKind::sentencepiece)
    s.target_spm = joint && s.source_spm != nullptr ? s.source_spm : model("target");
  const bool classifier = s.model->task() == models::Task::classification;
  if (const auto it = info.extra.find(kLabelsKey); classifier || it != info.extra.end()) {
    ATTEND_CHECK(it != info.extra.end(), "checkpoint", source, ": a classifier without class names (metadata extra.",
                 kLabelsKey, ")");
    try {
      const nlohmann::json j = nlohmann::json::parse(it->second);
      ATTEND_CHECK(j.is_array(), "checkpoint", source, ": extra.", kLabelsKey, " is not a JSON array");
      for (const auto& name : j) {
        ATTEND_CHECK(name.is_string(), "checkpoint", source, ": extra.", kLabelsKey, " holds a non-string");
        s.labels.push_back(name.get<std::string>());
      }
    } catch (const nlohmann::json::exception& e) {
      throw Error("checkpoint", source + ": extra." + kLabelsKey + ": " + e.what());
    }
    const int64_t K = classifier ? static_cast<const models::ClassifierConfig&>(*s.model).num_classes
                                 : std::ssize(s.labels);
    ATTEND_CHECK(std::ssize(s.labels) == K, "checkpoint", source, ": ", s.labels.size(), " class names for num_classes ",
                 K);
  }
  return s;
}

data::Vocab spm_vocab(const data::SentencePiece& sp, const std::string& what) {
  std::vector<std::string> pieces;
  pieces.reserve(static_cast<size_t>(sp.vocab_size()));
  for (int64_t i = 0; i < sp.vocab_size(); ++i) pieces.push_back(sp.id_to_piece(i));
  return data::Vocab::of_tokens(pieces, what);
}

}  // namespace attend::app
