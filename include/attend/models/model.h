// Model: the root of every model attend builds. A model is a module with parameters, its typed
// config (config.h) and the stream its dropout draws from; what it does is its task's, and each
// task has one interface (tasks.h):
//
//   Model                          module + config + dropout stream
//   +- SequenceToSequence          a source (tokens or features) -> target tokens; greedy/beam
//   |   +- EncoderDecoder          the encode/decode split most of them share (encoder_decoder.h)
//   +- Classifier                  a source -> class logits, with the pooling weights it used
//   +- LanguageModel               a token stream -> next-token logits; greedy/beam/sampling
//
// The registry (registry.h) returns a Model; a caller asks for the interface it needs with
// as_task<I>(model, ...), which says which task the model serves when it is another one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attend/core/rng.h"
#include "attend/core/tensor.h"
#include "attend/models/config.h"
#include "attend/nn/module.h"

namespace attend::models {

// One attention of a model, per head, for pictures (attend show) and alignments.
enum class AttentionKind { encoder_self, decoder_self, cross, pooling };
const char* to_string(AttentionKind kind);  // "encoder", "decoder", "cross", "pooling"

struct AttentionMap {
  AttentionKind kind = AttentionKind::cross;
  int64_t layer = 0;  // 0-based
  // [B, H, Tq, Tk]: queries are target positions (decoder, cross), source positions (encoder) or
  // the pooling queries (pooling); keys are source positions (encoder, cross, pooling) or decoder
  // inputs (decoder). Zero at masked keys.
  Tensor weights;
};

// A term a model adds to its task's loss (an attention regulariser, a penalization), already
// weighted: the objective adds `value` to the loss and reports each term by name in the log.
struct AuxLoss {
  std::string name;  // "doubly_stochastic", "penalization", ...
  Tensor value;      // scalar, differentiable
};

class Model : public nn::Module {
 public:
  const ModelConfig& config() const { return *config_; }
  Task task() const { return config_->task(); }
  // The stream dropout draws from (seeded from the constructor's rng).
  Rng& dropout_rng() { return dropout_rng_; }

 protected:
  // Validates and copies config; draws the dropout stream's seed from rng.
  Model(const ModelConfig& config, Rng& rng);
  std::unique_ptr<ModelConfig> config_;
  Rng dropout_rng_;
};

// The model as task interface I (SequenceToSequence, Classifier, LanguageModel). When it serves
// another task: error "[<command>] <what> is <a classifier>; <command> needs <a sequence-to-
// sequence model>", where `what` names the model (a checkpoint's path).
template <typename I>
I& as_task(Model& model, const std::string& what, const std::string& command) {
  auto* typed = dynamic_cast<I*>(&model);
  ATTEND_CHECK(typed != nullptr, command, what, " is ", task_noun(model.task()), "; ", command, " needs ",
               task_noun(I::kTask));
  return *typed;
}

}  // namespace attend::models
