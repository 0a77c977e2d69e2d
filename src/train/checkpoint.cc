#include "attend/train/checkpoint.h"

#include <cmath>
#include <set>
#include <sstream>

#include "checkpoint_format.h"

namespace attend::train {
namespace {

using namespace checkpoint_format;

bool same_double(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

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
  // save_checkpoint refuses non-finite weights and optimizer state, so a file that holds them was
  // corrupted or written by another tool: refuse it before changing anything. The check lives
  // here, not in io::decode_safetensors: the file format stores any float (an additive mask of
  // -inf is a legitimate tensor), what a checkpoint may hold is this loader's business.
  for (const auto& [key, t] : c.tensors)
    ATTEND_CHECK(all_finite(t), op, path, ": tensor '", key, "' holds NaN or Inf; refusing to load it");
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
