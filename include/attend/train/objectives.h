// The objective of each task (objective.h): its loss, its validation metrics, and the auxiliary
// terms its models add (models::AuxLoss, reported by name). Each reads the parts of a data::Batch
// its task fills and talks to the model only through the task's interface (models/tasks.h).
//
//   task                  loss (mean over)                               validation metrics
//   sequence-to-sequence  token cross-entropy of teacher forcing,        loss, ppl (+ what a
//                         label smoothing, pad targets ignored (target   decode check adds:
//                         tokens + EOS)                                  exact, bleu, ...)
//   classification        cross-entropy of the class logits (examples)   loss, accuracy, macro_f1
//   language model        next-token cross-entropy over windows, pad     loss, ppl, ppl_word (when
//                         targets ignored (predicted tokens)             the text's words are known)
//
// loss = task loss + sum of the model's aux terms; "loss" in the metrics is the task loss alone,
// without label smoothing, so validation losses compare across settings.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "attend/core/index.h"
#include "attend/data/batching.h"
#include "attend/models/tasks.h"
#include "attend/train/objective.h"

namespace attend::train {

// Decoder input and output of teacher forcing for a batch of targets.
struct DecoderIO {
  Index tgt_in;   // [B, T + 1]: BOS y_1 .. y_n, pad ...
  Index tgt_out;  // [B, T + 1]: y_1 .. y_n EOS, pad ...
};
// target [B, T] (ids, padded), target_lengths [B] in [0, T] -> DecoderIO with the config's
// bos/eos/pad ids. Errors "[decoder_io] ...".
DecoderIO decoder_io(const Index& target, const std::vector<int64_t>& target_lengths,
                     const models::SequenceToSequenceConfig& config);

struct LossOptions {
  int64_t pad_id = 0;            // targets equal to pad_id count neither in the sum nor in the mean
  double label_smoothing = 0.0;  // PyTorch's: (1 - eps) one-hot + eps / V
};
// Mean token cross-entropy of logits [B, T, V] against targets [B, T] (attend::cross_entropy with
// ignore_index = pad_id). Errors "[sequence_loss] ..." name the shapes.
Tensor sequence_loss(const Tensor& logits, const Index& targets, const LossOptions& opt = {});

// The loss and the aux terms' values of a step (shared by the objectives).
StepLoss with_aux(Tensor task_loss, int64_t count, const std::vector<models::AuxLoss>& aux);

class SequenceObjective : public Objective {
 public:
  // valid: the validation batches (may be null: no validation); decode_check: metrics of decoding
  // some validation sources (exact match, BLEU), added to the teacher-forced ones (may be empty).
  SequenceObjective(models::SequenceToSequence& model, double label_smoothing, const data::BatchStream* valid,
                    ValidateFn decode_check = {});
  StepLoss loss(const data::Batch& batch) override;
  bool validates() const override { return valid_ != nullptr || decode_check_ != nullptr; }
  Metrics validate() override;

 private:
  models::SequenceToSequence& model_;
  double label_smoothing_;
  const data::BatchStream* valid_;
  ValidateFn decode_check_;
};

class ClassificationObjective : public Objective {
 public:
  ClassificationObjective(models::Classifier& model, const data::BatchStream* valid);
  StepLoss loss(const data::Batch& batch) override;
  bool validates() const override { return valid_ != nullptr; }
  Metrics validate() override;

 private:
  models::Classifier& model_;
  const data::BatchStream* valid_;
};

class LanguageModelObjective : public Objective {
 public:
  // valid_words: whitespace words of the validation text (documents' ends counted as words), for
  // "ppl_word" = exp(total nll / valid_words); 0 leaves it out.
  LanguageModelObjective(models::LanguageModel& model, const data::BatchStream* valid, int64_t valid_words = 0);
  StepLoss loss(const data::Batch& batch) override;
  bool validates() const override { return valid_ != nullptr; }
  Metrics validate() override;

 private:
  models::LanguageModel& model_;
  const data::BatchStream* valid_;
  int64_t valid_words_;
};

// Summed next-token negative log-likelihood of a language model over windows tokens [B, T + 1]
// (pad targets ignored) and the number of tokens it predicted: what perplexity is made of.
struct NllSum {
  double nll = 0.0;
  int64_t tokens = 0;
};
NllSum language_model_nll(models::LanguageModel& model, const Index& windows);

}  // namespace attend::train
