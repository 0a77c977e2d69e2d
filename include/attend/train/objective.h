// Objective: what the Trainer optimizes and how it validates, for one model on one kind of batch.
// The Trainer knows no model and no task: it asks the objective for the loss of each batch and
// for the validation metrics at each epoch end. Each task has one objective (objectives.h); a
// program may write its own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "attend/core/tensor.h"
#include "attend/data/batching.h"

namespace attend::train {

struct StepLoss {
  Tensor loss;         // scalar, differentiable: the task's mean loss plus the model's auxiliary terms
  int64_t tokens = 0;  // what the loss is a mean over (target tokens, examples), for the running mean
  std::vector<std::pair<std::string, double>> terms;  // each auxiliary term's value, reported in the log
};

using Metrics = std::map<std::string, double>;

class Objective {
 public:
  virtual ~Objective() = default;
  // The loss of one training batch (the model is in training mode).
  virtual StepLoss loss(const data::Batch& batch) = 0;
  // Whether validate() has anything to report (the LR plateau, early stopping and --best need it).
  virtual bool validates() const = 0;
  // Named validation metrics ("loss", "ppl", "bleu", ...); the Trainer calls it in inference mode
  // without gradients.
  virtual Metrics validate() = 0;
};

using LossFn = std::function<StepLoss(const data::Batch&)>;
using ValidateFn = std::function<Metrics()>;

// An objective from two functions (validate_fn may be empty: no validation).
class FunctionObjective : public Objective {
 public:
  FunctionObjective(LossFn loss_fn, ValidateFn validate_fn = {})
      : loss_fn_(std::move(loss_fn)), validate_fn_(std::move(validate_fn)) {}
  StepLoss loss(const data::Batch& batch) override { return loss_fn_(batch); }
  bool validates() const override { return validate_fn_ != nullptr; }
  Metrics validate() override { return validate_fn_ ? validate_fn_() : Metrics{}; }

 private:
  LossFn loss_fn_;
  ValidateFn validate_fn_;
};

}  // namespace attend::train
