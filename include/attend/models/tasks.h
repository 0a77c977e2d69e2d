// The task interfaces beneath models::Model (model.h): what a trainer, a search or a command needs
// of a model of each task, and nothing of how a family computes it.
//
// Shapes: B batch, S padded source length, T target (or token) length, V vocabulary, K classes,
// H heads.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/source.h"
#include "attend/core/tensor.h"
#include "attend/models/model.h"
#include "attend/models/step_decoder.h"

namespace attend::models {

// What a model's output layer reads and the layer itself: logits = states weight^T (+ bias). The
// objective then computes the loss without the [B, T, V] logits (ops linear_cross_entropy).
struct OutputFeatures {
  Tensor states;  // [B, T, C]
  Tensor weight;  // [V, C]; undefined: the model's output is not one linear layer
  Tensor bias;    // [V] or undefined
  std::vector<AuxLoss> aux;
};

struct ForwardOptions {
  bool need_attention = false;  // also return the attention weights (undefined without attention)
};

struct ForwardResult {
  Tensor logits;     // [B, T, V]
  Tensor attention;  // [B, T, S] when requested (zero at padded source positions)
  std::vector<AuxLoss> aux;  // terms the model adds to the loss (training mode)
};

// Sequence-to-sequence: tgt_in [B, T] (BOS then the target, padded with pad_id on the right);
// logits[:, t] predict the token after tgt_in[:, t]. Target padding needs no mask: step t only
// reads tokens <= t, and the loss ignores pad targets. Source padding is masked out of every
// attention. In training mode forward() builds the autograd graph and applies dropout; start() and
// step() always run as inference.
class SequenceToSequence : public Model, public StepDecoder {
 public:
  static constexpr Task kTask = Task::sequence_to_sequence;
  const SequenceToSequenceConfig& task_config() const {
    return static_cast<const SequenceToSequenceConfig&>(*config_);
  }

  // Teacher forcing: src [B, S] ids or [B, R, C] features with lengths, tgt_in [B, T] -> logits
  // [B, T, V]. Errors "[<architecture>] ..." name the shapes.
  virtual ForwardResult forward(const Source& src, const Index& tgt_in, const ForwardOptions& opt = {}) = 0;
  Tensor logits(const Source& src, const Index& tgt_in) { return forward(src, tgt_in).logits; }
  // forward() up to the output layer, when that layer is linear (default: undefined weight, and
  // the objective falls back to forward()).
  virtual OutputFeatures features(const Source& src, const Index& tgt_in) {
    (void)src;
    (void)tgt_in;
    return {};
  }
  // The state of the search's first step over src (B rows), inference mode, before BOS is fed.
  virtual std::unique_ptr<DecoderState> start(const Source& src) = 0;

  // Every attention of a teacher-forced pass over tgt_in, in inference mode without autograd:
  // encoder self-attention per layer, then decoder self-attention and cross-attention per layer.
  // Models with one attention return their cross-attention as layer 0, head 0 (the default).
  virtual std::vector<AttentionMap> attention_maps(const Source& src, const Index& tgt_in);
  // The decoder layer (0-based) whose cross-attention forward() and step() return, averaged over
  // heads (the alignment layer; 0 for models with one attention).
  virtual int64_t alignment_layer() const { return 0; }

  int64_t bos_id() const { return task_config().bos_id; }
  int64_t eos_id() const override { return task_config().eos_id; }
  int64_t vocab_size() const override { return task_config().tgt_vocab; }

 protected:
  SequenceToSequence(const SequenceToSequenceConfig& config, Rng& rng) : Model(config, rng) {}
};

struct ClassifierOutput {
  Tensor logits;   // [B, K]
  Tensor weights;  // the pooling weights over the source, [B, H, S] (H pooling heads); undefined
                   // when the model pools without attention
  std::vector<AuxLoss> aux;  // terms the model adds to the loss (training mode)
};

// Classification: a source (tokens [B, S] or features [B, R, C], with lengths) to K class logits.
class Classifier : public Model {
 public:
  static constexpr Task kTask = Task::classification;
  const ClassifierConfig& task_config() const { return static_cast<const ClassifierConfig&>(*config_); }
  int64_t num_classes() const { return task_config().num_classes; }

  virtual ClassifierOutput classify(const Source& src) = 0;
  // Every attention of the model over src (inference mode, no autograd): self-attention per layer
  // (encoder_self), the pooling weights (pooling, [B, H, 1, S]). Default: the pooling weights.
  virtual std::vector<AttentionMap> attention_maps(const Source& src);

 protected:
  Classifier(const ClassifierConfig& config, Rng& rng) : Model(config, rng) {}
};

struct LanguageModelOutput {
  Tensor logits;  // [B, T, V]
  std::vector<AuxLoss> aux;
};


// Language modelling: tokens [B, T] -> logits [B, T, V], logits[:, t] predicting token t + 1 from
// tokens 0..t (causal: right padding needs no mask). Generation starts from an empty state of N
// rows and feeds the context (eos_id, then the prompt) through step().
class LanguageModel : public Model, public StepDecoder {
 public:
  static constexpr Task kTask = Task::language_model;
  const LanguageModelConfig& task_config() const { return static_cast<const LanguageModelConfig&>(*config_); }

  // Errors "[<architecture>] ..." name the shapes (T beyond max_positions()).
  virtual LanguageModelOutput forward(const Index& tokens) = 0;
  // forward() up to the output layer, when that layer is linear (default: undefined weight, and
  // the objective falls back to forward()).
  virtual OutputFeatures features(const Index& tokens) {
    (void)tokens;
    return {};
  }
  // A state of `rows` rows that have seen nothing yet (inference mode).
  virtual std::unique_ptr<DecoderState> start(int64_t rows) = 0;
  // The self-attention of every layer over tokens [B, T], per head: decoder_self maps [B, H, T, T].
  virtual std::vector<AttentionMap> attention_maps(const Index& tokens) = 0;
  // The longest context the model reads (its positions). forward() beyond it is an error naming
  // the length; a step that would pass it puts all probability on eos_id, so a search ends there.
  virtual int64_t max_positions() const = 0;

  int64_t eos_id() const override { return task_config().eos_id; }
  int64_t vocab_size() const override { return task_config().vocab; }

 protected:
  LanguageModel(const LanguageModelConfig& config, Rng& rng) : Model(config, rng) {}
};

}  // namespace attend::models
