// Trainer: the generic training loop over any nn::Module, a data::BatchStream (whose position
// resumes exactly) and an Objective (objective.h). It knows no model and no task: the objective
// runs the forward pass and returns a scalar loss (a mean over the batch's tokens or examples),
// the count it averaged over and its auxiliary terms; its validate() returns named metrics at each
// epoch end.
//
// One step:  zero_grad -> objective.loss(batch) -> (loss finite?) backward -> clip_grad_norm ->
//            (gradient norm finite?) optimizer.step().
// A non-finite loss or gradient norm skips the update (weights and optimizer state untouched) and
// counts; max_consecutive_nonfinite skipped steps in a row stop training with an Error
// "[Trainer] ..." naming the step, the epoch and the last loss.
// Each epoch end: validate, feed the metric to ReduceLROnPlateau and early stopping, save the best
// weights (best_path), print a summary line, checkpoint. Checkpoints also every checkpoint_every
// steps and when fit() returns.
//
// Exact resume: resume(path) restores the weights, the optimizer state, the batch position, the
// training Rng (seed and offset), the scheduler/early-stopping state, the running sums of the
// epoch and the non-finite streak, so fit() continues bit for bit as if never interrupted.
//
// Progress (on options.log, at most one line per log_interval_s, every log_every steps):
//   "epoch 2/10 | batch 56/200 | step 1234 | loss 3.4567 | 12.3k tok/s | lr 1.00e-03 | eta 1m23s epoch, 12m05s run"
// and at each epoch end:
//   "epoch 2/10 done | 200 batches | loss 3.4567 | 12.3k tok/s | 45.2s | skipped 0 | valid loss 3.2100 | lr 1.00e-03"
// The loss is the objective's whole loss; when the model adds auxiliary terms, each term's mean
// over the epoch follows it by name ("| aux doubly_stochastic 0.0123"). Those means are not part
// of the checkpoint: after a resume they restart with the session.
#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "attend/core/rng.h"
#include "attend/data/batching.h"
#include "attend/nn/module.h"
#include "attend/train/checkpoint.h"
#include "attend/train/objective.h"
#include "attend/train/optimizer.h"
#include "attend/train/schedule.h"

namespace attend::train {

// Monotonic seconds; tests inject a fake one.
using Clock = std::function<double()>;

enum class StopReason { epochs, max_steps, time_limit, early_stopping };
const char* stop_reason_name(StopReason r);

struct ProgressSnapshot;  // below: the progress line's numbers

struct TrainerOptions {
  int64_t epochs = 10;
  int64_t max_steps = 0;              // total steps (global_step) to stop at; 0 = no limit
  double max_time_s = 0.0;            // wall seconds of this fit() call (validation included); 0 = no limit
  double clip = 0.0;                  // max gradient norm; 0 = no clipping
  std::string checkpoint_path;        // "" = no checkpoints
  int64_t checkpoint_every = 0;       // steps; 0 = only at epoch ends and when fit() returns
  std::string best_path;              // weights-only checkpoint of the best validation; "" = none
  std::string metric = "loss";        // the validation entry that drives plateau, patience, best
  MetricMode metric_mode = MetricMode::min;
  int64_t patience = 0;               // early stopping after this many epochs without improvement; 0 = off
  std::optional<PlateauOptions> plateau;  // its mode is replaced by metric_mode
  std::optional<LrScheduleOptions> schedule;  // per-step rate from the optimizer's initial lr (not with plateau)
  int64_t log_every = 1;              // steps between progress lines...
  double log_interval_s = 1.0;        // ...and at most one line per this many seconds
  int64_t max_consecutive_nonfinite = 5;
  std::ostream* log = &std::cerr;     // null = silent
  // Called with each progress line's numbers (at the same moments the line is logged, also when
  // log is null); may throw to stop training (the Python bindings' callbacks and Ctrl-C do).
  std::function<void(const ProgressSnapshot&)> on_progress;
  Clock clock;                        // empty = std::chrono::steady_clock
  Rng* rng = nullptr;                 // the training Rng (dropout), saved and restored; may be null
  CheckpointInfo info;                // model_config, vocabs and extra written into every checkpoint
};

struct FitResult {
  StopReason reason = StopReason::epochs;
  TrainerState state;
  std::vector<double> losses;        // the loss of every step of this call (NaN/Inf when skipped)
  std::vector<Metrics> validations;  // one per epoch end in this call
};

// The progress line's numbers and their formatting (pure functions, tested with fixed values).
struct ProgressSnapshot {
  int64_t epoch = 0;  // 0-based; printed 1-based
  int64_t epochs = 0;
  int64_t batch = 0;  // batches done in this epoch
  int64_t batches_in_epoch = 0;
  int64_t step = 0;
  double mean_loss = 0.0;
  double tokens_per_second = 0.0;
  double lr = 0.0;
  double eta_epoch_s = -1.0;  // < 0: unknown
  double eta_run_s = -1.0;
  std::vector<std::pair<std::string, double>> terms;  // auxiliary terms' means, by name
};
std::string format_progress(const ProgressSnapshot& s);
// "45s", "1m23s", "2h05m07s"; "?" for a negative or non-finite value.
std::string format_duration(double seconds);
// "950", "12.3k", "4.56M"
std::string format_rate(double per_second);

class Trainer {
 public:
  // Error "[Trainer] ..." for epochs < 1, negative max_steps/checkpoint_every/patience, clip < 0,
  // log_every < 1, max_consecutive_nonfinite < 1, patience/plateau/best_path with an objective
  // that does not validate.
  Trainer(nn::Module& model, Optimizer& optimizer, data::BatchStream& batches, Objective& objective,
          TrainerOptions options);

  // Restores everything from a checkpoint written by this trainer (see the header comment).
  CheckpointInfo resume(const std::string& path);
  // Trains until options.epochs are done, max_steps or max_time_s is reached or early stopping
  // triggers. The time limit is checked before each step, so the last step and its epoch-end
  // validation may run past it by one step plus one validation.
  FitResult fit();
  // Writes a checkpoint of the current state now (weights, optimizer, trainer state).
  void save(const std::string& path);

  const TrainerState& state() const { return state_; }

 private:
  double now() const;
  void train_step(FitResult& result);
  bool end_epoch(int64_t epoch, FitResult& result);  // true = stop early
  void maybe_log(bool force);
  void sync_state();

  std::vector<std::pair<std::string, double>> term_means() const;

  nn::Module& model_;
  Optimizer& optimizer_;
  data::BatchStream& batches_;
  Objective& objective_;
  TrainerOptions options_;
  std::optional<ReduceLROnPlateau> plateau_;
  double base_lr_ = 0.0;  // the optimizer's rate at construction: the schedule's peak
  EarlyStopping early_;
  TrainerState state_;
  int64_t last_saved_step_ = -1;
  // Timing of this session (not saved: rates and ETAs restart after a resume).
  double epoch_start_time_ = 0.0;
  double last_log_time_ = -1e300;
  int64_t session_epoch_steps_ = 0;
  int64_t session_epoch_tokens_ = 0;
  int64_t current_epoch_batches_ = 0;
  double session_start_time_ = 0.0;
  int64_t session_steps_ = 0;
  // Auxiliary terms of this epoch: name -> (sum of value * tokens, tokens), in first-seen order.
  std::vector<std::pair<std::string, std::pair<double, int64_t>>> term_sums_;
};

}  // namespace attend::train
