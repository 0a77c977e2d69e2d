#include "attend/app/model_spec.h"

#include <nlohmann/json.hpp>

#include <sstream>

#include "attend/data/utf8.h"
#include "attend/models/registry.h"

namespace attend::app {

namespace {

constexpr int kFormat = 2;

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
    }
  }
  return j;
}

// A JSON value as the text a Field parses; strings as they are (the first format's values).
std::string field_text(const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  if (v.is_number_float()) {
    std::ostringstream os;
    os.precision(17);
    os << v.get<double>();
    return os.str();
  }
  throw Error("checkpoint", "key '" + key + "' has a " + std::string(v.type_name()) + " value");
}

}  // namespace

std::string ModelSpec::reference_form(const std::string& reference) const {
  return lowercase ? data::utf8_lower(reference) : reference;
}

std::string ModelSpec::to_json() const {
  ATTEND_CHECK(model != nullptr, "ModelSpec", "no model config");
  nlohmann::json j;
  j["format"] = kFormat;
  j["model"] = model_json(*model);
  j["source_tokens"] = data::tokenizer_kind_name(source_tokens);
  j["target_tokens"] = data::tokenizer_kind_name(target_tokens);
  j["lowercase"] = lowercase;
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
  ATTEND_CHECK(j.is_object() && j.contains("model") && j["model"].is_object() && j.contains("source_tokens") &&
                   j.contains("target_tokens"),
               "checkpoint", where, " lacks model, source_tokens or target_tokens");
  ModelSpec s;
  try {
    const int format = j.contains("format") ? j["format"].get<int>() : 1;
    ATTEND_CHECK(format == 1 || format == kFormat, "checkpoint", "format ", format, " is newer than this attend (",
                 kFormat, ")");
    const nlohmann::json& m = j["model"];
    ATTEND_CHECK(m.contains("architecture") && m["architecture"].is_string(), "checkpoint",
                 "model lacks 'architecture'");
    std::map<std::string, std::string> values;
    for (const auto& [key, value] : m.items()) values[key] = field_text(key, value);
    s.model = models::make_config(m["architecture"].get<std::string>(), values, /*ignore_unknown=*/format == 1);
    s.source_tokens = data::parse_tokenizer_kind(j["source_tokens"].get<std::string>());
    s.target_tokens = data::parse_tokenizer_kind(j["target_tokens"].get<std::string>());
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

}  // namespace attend::app
