// The metadata half of checkpoints (train/checkpoint.h): config, vocabularies, trainer and
// optimizer JSON, read from a file or from bytes. Uses only the io and data layers, so that the
// loader fuzz harness (tests/fuzz) links it without the model stack.
#include <cmath>
#include <limits>
#include <sstream>

#include "attend/io/json_config.h"
#include "checkpoint_format.h"

namespace attend::train {
namespace checkpoint_format {

// JSON has no NaN/Inf: those are written as strings. Finite values print with 17 digits, so they
// read back bit for bit.
nlohmann::json encode_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

double decode_double(const nlohmann::json& j, const std::string& where) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  throw Error("load_checkpoint", where + " is not a number: " + io::describe_json(j));
}

nlohmann::json trainer_to_json(const TrainerState& s) {
  return {
      {"epoch", s.epoch},
      {"batch_in_epoch", s.batch_in_epoch},
      {"global_step", s.global_step},
      {"updates", s.updates},
      {"skipped_steps", s.skipped_steps},
      {"nonfinite_streak", s.nonfinite_streak},
      {"best_metric", encode_double(s.best_metric)},
      {"plateau",
       {{"best", encode_double(s.plateau.best)},
        {"num_bad_epochs", s.plateau.num_bad_epochs},
        {"cooldown_counter", s.plateau.cooldown_counter},
        {"last_epoch", s.plateau.last_epoch}}},
      {"early_stopping", {{"best", encode_double(s.early_stopping.best)}, {"bad_epochs", s.early_stopping.bad_epochs}}},
      {"rng", {{"seed", s.rng_seed}, {"offset", s.rng_offset}}},
      {"epoch_loss_sum", encode_double(s.epoch_loss_sum)},
      {"epoch_tokens", s.epoch_tokens},
      {"epoch_steps", s.epoch_steps},
  };
}

namespace {

TrainerState trainer_from_json(const nlohmann::json& j, const std::string& where) {
  const auto field = [&](const nlohmann::json& obj, const char* key, const std::string& path) -> const nlohmann::json& {
    ATTEND_CHECK(obj.is_object() && obj.contains(key), "load_checkpoint", where, ": trainer state lacks '", path,
                 key, "'");
    return obj[key];
  };
  // Every integer of the state is a count or a position: in [0, 2^63). nlohmann stores numbers
  // above 2^63 - 1 as unsigned, which get<int64_t>() would wrap to negative.
  const auto integer = [&](const nlohmann::json& obj, const char* key, const std::string& path = "") {
    const auto& v = field(obj, key, path);
    const bool ok = v.is_number_unsigned()
                        ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                        : v.is_number_integer() && v.get<int64_t>() >= 0;
    ATTEND_CHECK(ok, "load_checkpoint", where, ": trainer state '", path, key, "' is not an integer in [0, 2^63): ",
                 io::describe_json(v));
    return v.get<int64_t>();
  };
  const auto unsigned_integer = [&](const nlohmann::json& obj, const char* key, const std::string& path) {
    const auto& v = field(obj, key, path);
    ATTEND_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), "load_checkpoint",
                 where, ": trainer state '", path, key, "' is not an unsigned integer: ", io::describe_json(v));
    return v.get<uint64_t>();
  };
  const auto number = [&](const nlohmann::json& obj, const char* key, const std::string& path = "") {
    return decode_double(field(obj, key, path), where + ": trainer state '" + path + key + "'");
  };
  TrainerState s;
  s.epoch = integer(j, "epoch");
  s.batch_in_epoch = integer(j, "batch_in_epoch");
  s.global_step = integer(j, "global_step");
  s.updates = integer(j, "updates");
  s.skipped_steps = integer(j, "skipped_steps");
  s.nonfinite_streak = integer(j, "nonfinite_streak");
  s.best_metric = number(j, "best_metric");
  const auto& p = field(j, "plateau", "");
  s.plateau.best = number(p, "best", "plateau.");
  s.plateau.num_bad_epochs = integer(p, "num_bad_epochs", "plateau.");
  s.plateau.cooldown_counter = integer(p, "cooldown_counter", "plateau.");
  s.plateau.last_epoch = integer(p, "last_epoch", "plateau.");
  const auto& e = field(j, "early_stopping", "");
  s.early_stopping.best = number(e, "best", "early_stopping.");
  s.early_stopping.bad_epochs = integer(e, "bad_epochs", "early_stopping.");
  const auto& r = field(j, "rng", "");
  s.rng_seed = unsigned_integer(r, "seed", "rng.");
  s.rng_offset = unsigned_integer(r, "offset", "rng.");
  s.epoch_loss_sum = number(j, "epoch_loss_sum");
  s.epoch_tokens = integer(j, "epoch_tokens");
  s.epoch_steps = integer(j, "epoch_steps");
  return s;
}

}  // namespace

nlohmann::json parse_metadata_json(const std::string& text, const std::string& path, const std::string& key) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error("load_checkpoint", path + ": metadata '" + key + "' is not JSON: " + e.what());
  }
}

namespace {

CheckpointInfo info_from_checked(const io::SafetensorsContents& c, const std::string& path) {
  const auto meta = [&](const std::string& key) -> const std::string& {
    const auto it = c.metadata.find(key);
    ATTEND_CHECK(it != c.metadata.end(), "load_checkpoint", path, ": no '", key,
                 "' in the metadata (not a checkpoint written by attend?)");
    return it->second;
  };
  ATTEND_CHECK(meta("format") == kFormat, "load_checkpoint", path, ": format '", meta("format"), "', expected '",
               kFormat, "'");
  CheckpointInfo info;
  info.model_config = meta("model_config");
  info.trainer = trainer_from_json(parse_metadata_json(meta("trainer"), path, "trainer"), path);
  for (const auto& [key, value] : c.metadata) {
    if (starts_with(key, kVocabPrefix)) {
      const std::string name = key.substr(std::string(kVocabPrefix).size());
      std::istringstream in(value);
      info.vocabs.emplace(name, data::Vocab::read(in, path + ":" + key));
    } else if (starts_with(key, kExtraPrefix)) {
      info.extra[key.substr(std::string(kExtraPrefix).size())] = value;
    }
  }
  const auto opt = c.metadata.find("optimizer");
  if (opt != c.metadata.end()) {
    const nlohmann::json j = parse_metadata_json(opt->second, path, "optimizer");
    ATTEND_CHECK(j.is_object() && j.contains("kind") && j["kind"].is_string(), "load_checkpoint", path,
                 ": metadata 'optimizer' lacks its 'kind'");
    info.has_optimizer = true;
    info.optimizer_kind = j["kind"].get<std::string>();
  }
  return info;
}

}  // namespace

CheckpointInfo info_from(const io::SafetensorsContents& c, const std::string& path) {
  // Every JSON access checks the type first; this turns a slip of that rule into the loader's
  // error naming the file instead of a JSON library exception.
  try {
    return info_from_checked(c, path);
  } catch (const nlohmann::json::exception& e) {
    throw Error("load_checkpoint", path + ": metadata: " + e.what());
  }
}

io::SafetensorsContents read_contents(const std::string& path) {
  try {
    return io::load_safetensors(path);
  } catch (const Error& e) {
    throw Error("load_checkpoint", std::string(e.what()));
  }
}


}  // namespace checkpoint_format

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return checkpoint_format::info_from(checkpoint_format::read_contents(path), path);
}

CheckpointInfo decode_checkpoint_info(const std::string& bytes, const std::string& source) {
  io::SafetensorsContents c;
  try {
    c = io::decode_safetensors(bytes, source);
  } catch (const Error& e) {
    throw Error("load_checkpoint", std::string(e.what()));
  }
  return checkpoint_format::info_from(c, source);
}

}  // namespace attend::train
