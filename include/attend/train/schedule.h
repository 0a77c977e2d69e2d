// Decisions taken once per validation: lower the learning rate when the metric stops improving
// (torch.optim.lr_scheduler.ReduceLROnPlateau, threshold_mode "rel") and stop training early.
// Both keep their whole state in a plain struct, saved in checkpoints and restored exactly.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace attend::train {

// Which direction of the validation metric is better.
enum class MetricMode { min, max };

// "rel" improvement test of PyTorch: min: a < best * (1 - threshold); max: a > best * (1 + threshold).
bool is_improvement(MetricMode mode, double threshold, double current, double best);

struct PlateauOptions {
  MetricMode mode = MetricMode::min;
  double factor = 0.1;      // new lr = max(lr * factor, min_lr); in (0, 1)
  int64_t patience = 10;    // bad epochs tolerated before reducing
  double threshold = 1e-4;  // relative
  int64_t cooldown = 0;     // epochs after a reduction during which bad epochs are not counted
  double min_lr = 0.0;
  double eps = 1e-8;        // reductions smaller than this are ignored
};

struct PlateauState {
  double best = std::numeric_limits<double>::infinity();  // -inf for MetricMode::max
  int64_t num_bad_epochs = 0;
  int64_t cooldown_counter = 0;
  int64_t last_epoch = 0;
  bool operator==(const PlateauState&) const = default;
};

class ReduceLROnPlateau {
 public:
  // Error "[ReduceLROnPlateau] ..." for factor outside (0, 1), negative patience/cooldown/min_lr.
  explicit ReduceLROnPlateau(const PlateauOptions& options = {});
  // Feeds one validation metric; returns the learning rate to use from now on (`lr` or lower).
  // A NaN metric counts as a bad epoch (it never compares better).
  double step(double metric, double lr);

  const PlateauOptions& options() const { return options_; }
  const PlateauState& state() const { return state_; }
  void set_state(const PlateauState& s) { state_ = s; }

 private:
  PlateauOptions options_;
  PlateauState state_;
};

struct EarlyStoppingOptions {
  MetricMode mode = MetricMode::min;
  int64_t patience = 5;     // validations without improvement before stopping; 0 = never stop
  double min_delta = 0.0;   // an improvement must beat best by more than this (absolute)
};

struct EarlyStoppingState {
  double best = std::numeric_limits<double>::quiet_NaN();  // NaN until the first finite metric
  int64_t bad_epochs = 0;
  bool operator==(const EarlyStoppingState& o) const;
};

class EarlyStopping {
 public:
  explicit EarlyStopping(const EarlyStoppingOptions& options = {});
  // Feeds one validation metric; returns true when training should stop now.
  bool step(double metric);
  // Whether the last step() set a new best (the trainer then saves the best checkpoint).
  bool improved() const { return improved_; }

  const EarlyStoppingOptions& options() const { return options_; }
  const EarlyStoppingState& state() const { return state_; }
  void set_state(const EarlyStoppingState& s) { state_ = s; }

 private:
  EarlyStoppingOptions options_;
  EarlyStoppingState state_;
  bool improved_ = false;
};

// Per-step learning-rate schedules: the rate of optimizer step s (1-based, Trainer's global_step)
// as a pure function of s, so a resumed run continues exactly without saving any state:
//   constant: lr * min(1, s / warmup)                                  (warmup 0: lr)
//   noam:     lr * min(s / warmup, sqrt(warmup / s))                   (Vaswani et al. 2017, eq. 3:
//             d_model^-0.5 * min(s^-0.5, s * warmup^-1.5) is this with lr = (d_model * warmup)^-0.5;
//             here lr is the peak, reached at s = warmup)
//   cosine:   the warm-up, then min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2,
//             p = min(1, (s - warmup) / (total_steps - warmup))       (Loshchilov & Hutter 2017, one cycle)
enum class LrSchedule { constant, noam, cosine };
const char* lr_schedule_name(LrSchedule s);
// "constant" | "noam" | "cosine"; error "[lr_schedule] unknown schedule 'x' (known: ...)".
LrSchedule parse_lr_schedule(const std::string& name);

struct LrScheduleOptions {
  LrSchedule kind = LrSchedule::constant;
  int64_t warmup = 0;       // steps of linear warm-up from 0 to lr (noam: required > 0)
  int64_t total_steps = 0;  // cosine: the step at which the rate reaches min_lr (> warmup)
  double min_lr = 0.0;      // cosine: the floor
};

// Error "[lr_schedule] ..." for a negative warmup, noam without warmup, cosine with total_steps
// <= warmup, min_lr < 0.
void check_lr_schedule(const LrScheduleOptions& o);
// The rate of step s >= 1 for peak rate lr.
double scheduled_lr(const LrScheduleOptions& o, double lr, int64_t step);

}  // namespace attend::train
