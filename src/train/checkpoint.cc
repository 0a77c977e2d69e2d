#include "attend/train/checkpoint.h"

#include <cmath>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attend/io/safetensors.h"

namespace attend::train {
namespace {

constexpr const char* kFormat = "attend-checkpoint/1";
constexpr const char* kModelPrefix = "model.";
constexpr const char* kOptimPrefix = "optim.";
constexpr const char* kVocabPrefix = "vocab.";
constexpr const char* kExtraPrefix = "extra.";

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool same_double(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

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
  throw Error("load_checkpoint", where + " is not a number: " + j.dump());
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

TrainerState trainer_from_json(const nlohmann::json& j, const std::string& where) {
  const auto field = [&](const nlohmann::json& obj, const char* key, const std::string& path) -> const nlohmann::json& {
    ATTEND_CHECK(obj.is_object() && obj.contains(key), "load_checkpoint", where, ": trainer state lacks '", path,
                 key, "'");
    return obj[key];
  };
  const auto integer = [&](const nlohmann::json& obj, const char* key, const std::string& path = "") {
    const auto& v = field(obj, key, path);
    ATTEND_CHECK(v.is_number_integer(), "load_checkpoint", where, ": trainer state '", path, key,
                 "' is not an integer: ", v.dump());
    return v.get<int64_t>();
  };
  const auto unsigned_integer = [&](const nlohmann::json& obj, const char* key, const std::string& path) {
    const auto& v = field(obj, key, path);
    ATTEND_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), "load_checkpoint",
                 where, ": trainer state '", path, key, "' is not an unsigned integer: ", v.dump());
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
  ATTEND_CHECK(s.epoch >= 0 && s.batch_in_epoch >= 0 && s.global_step >= 0, "load_checkpoint", where,
               ": trainer state has a negative position (epoch ", s.epoch, ", batch ", s.batch_in_epoch, ", step ",
               s.global_step, ")");
  return s;
}

nlohmann::json parse_metadata_json(const std::string& text, const std::string& path, const std::string& key) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error("load_checkpoint", path + ": metadata '" + key + "' is not JSON: " + e.what());
  }
}

// The metadata part of a decoded file.
CheckpointInfo info_from(const io::SafetensorsContents& c, const std::string& path) {
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

io::SafetensorsContents read_contents(const std::string& path) {
  try {
    return io::load_safetensors(path);
  } catch (const Error& e) {
    throw Error("load_checkpoint", std::string(e.what()));
  }
}

}  // namespace

bool TrainerState::operator==(const TrainerState& o) const {
  return epoch == o.epoch && batch_in_epoch == o.batch_in_epoch && global_step == o.global_step &&
         updates == o.updates && skipped_steps == o.skipped_steps && nonfinite_streak == o.nonfinite_streak &&
         same_double(best_metric, o.best_metric) && same_double(plateau.best, o.plateau.best) &&
         plateau.num_bad_epochs == o.plateau.num_bad_epochs && plateau.cooldown_counter == o.plateau.cooldown_counter &&
         plateau.last_epoch == o.plateau.last_epoch && early_stopping == o.early_stopping &&
         rng_seed == o.rng_seed && rng_offset == o.rng_offset && same_double(epoch_loss_sum, o.epoch_loss_sum) &&
         epoch_tokens == o.epoch_tokens && epoch_steps == o.epoch_steps;
}

void save_checkpoint(const std::string& path, const nn::Module& model, const Optimizer* optimizer,
                     const CheckpointInfo& info) {
  constexpr const char* op = "save_checkpoint";
  const NamedParameters params = model.named_parameters();
  ATTEND_CHECK(!params.empty(), op, path, ": the model has no parameters");
  const std::string bad = first_nonfinite(params, Check::values);
  ATTEND_CHECK(bad.empty(), op, path, ": parameter '", bad,
               "' holds NaN or Inf; refusing to write a checkpoint with non-finite weights");

  io::TensorMap tensors;
  for (const auto& [name, p] : params) tensors[kModelPrefix + name] = p.detach();
  io::Metadata metadata;
  metadata["format"] = kFormat;
  metadata["model_config"] = info.model_config;
  metadata["trainer"] = trainer_to_json(info.trainer).dump();
  for (const auto& [name, vocab] : info.vocabs) {
    std::ostringstream os;
    vocab.save(os);
    metadata[kVocabPrefix + name] = os.str();
  }
  for (const auto& [key, value] : info.extra) metadata[kExtraPrefix + key] = value;
  if (optimizer != nullptr) {
    const OptimizerState st = optimizer->state_dict();
    for (const auto& [key, t] : st.tensors) {
      ATTEND_CHECK(all_finite(t), op, path, ": optimizer state '", key,
                   "' holds NaN or Inf; refusing to write the checkpoint");
      tensors[kOptimPrefix + key] = t;
    }
    metadata["optimizer"] = nlohmann::json{{"kind", st.kind}, {"lr", encode_double(st.lr)}}.dump();
  }
  io::save_safetensors(path, tensors, metadata);
}

CheckpointInfo read_checkpoint_info(const std::string& path) { return info_from(read_contents(path), path); }

CheckpointInfo load_checkpoint(const std::string& path, nn::Module& model, Optimizer* optimizer) {
  constexpr const char* op = "load_checkpoint";
  const io::SafetensorsContents c = read_contents(path);
  CheckpointInfo info = info_from(c, path);

  // Weights: every parameter present with its shape, nothing extra.
  const NamedParameters params = model.named_parameters();
  std::set<std::string> own;
  for (const auto& [name, p] : params) {
    own.insert(name);
    const auto it = c.tensors.find(kModelPrefix + name);
    ATTEND_CHECK(it != c.tensors.end(), op, path, ": parameter '", name, "' (expected shape ", p.shape().str(),
                 ") is missing from the checkpoint");
    ATTEND_CHECK(it->second.shape() == p.shape(), op, path, ": parameter '", name, "' has shape ",
                 it->second.shape().str(), " in the checkpoint, the model expects ", p.shape().str());
  }
  OptimizerState optim_state;
  for (const auto& [key, t] : c.tensors) {
    if (starts_with(key, kModelPrefix)) {
      const std::string name = key.substr(std::string(kModelPrefix).size());
      ATTEND_CHECK(own.count(name) == 1, op, path, ": the checkpoint has parameter '", name, "' ", t.shape().str(),
                   " that the model does not have (model config and weights disagree)");
    } else if (starts_with(key, kOptimPrefix)) {
      optim_state.tensors[key.substr(std::string(kOptimPrefix).size())] = t;
    } else {
      throw Error(op, path + ": unknown tensor '" + key + "' (expected 'model.*' or 'optim.*')");
    }
  }
  ATTEND_CHECK(info.has_optimizer || optim_state.tensors.empty(), op, path,
               ": optimizer tensors without an 'optimizer' metadata entry");
  if (optimizer != nullptr) {
    ATTEND_CHECK(info.has_optimizer, op, path, ": the checkpoint holds no optimizer state (weights only)");
    const nlohmann::json j = parse_metadata_json(c.metadata.at("optimizer"), path, "optimizer");
    ATTEND_CHECK(j.contains("lr"), op, path, ": metadata 'optimizer' lacks its 'lr'");
    optim_state.kind = info.optimizer_kind;
    optim_state.lr = decode_double(j["lr"], path + ": optimizer 'lr'");
    try {
      optimizer->load_state_dict(optim_state, path);  // validates before changing anything
    } catch (const Error& e) {
      throw Error(op, e.what());
    }
  }
  for (const auto& [name, p] : params) model.load_parameter(name, c.tensors.at(kModelPrefix + name));
  return info;
}

}  // namespace attend::train
