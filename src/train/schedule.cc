#include "attend/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "attend/core/error.h"

namespace attend::train {

bool is_improvement(MetricMode mode, double threshold, double current, double best) {
  if (mode == MetricMode::min) return current < best * (1.0 - threshold);
  return current > best * (1.0 + threshold);
}

ReduceLROnPlateau::ReduceLROnPlateau(const PlateauOptions& options) : options_(options) {
  constexpr const char* op = "ReduceLROnPlateau";
  ATTEND_CHECK(options.factor > 0 && options.factor < 1, op, "factor ", options.factor, " is not in (0, 1)");
  ATTEND_CHECK(options.patience >= 0, op, "patience ", options.patience, " is negative");
  ATTEND_CHECK(options.cooldown >= 0, op, "cooldown ", options.cooldown, " is negative");
  ATTEND_CHECK(options.min_lr >= 0, op, "min_lr ", options.min_lr, " is negative");
  ATTEND_CHECK(options.threshold >= 0, op, "threshold ", options.threshold, " is negative");
  if (options.mode == MetricMode::max) state_.best = -std::numeric_limits<double>::infinity();
}

// PyTorch 1.13, ReduceLROnPlateau.step:
//   if is_better(current, best): best = current; num_bad_epochs = 0  else num_bad_epochs += 1
//   if in_cooldown: cooldown_counter -= 1; num_bad_epochs = 0
//   if num_bad_epochs > patience: reduce; cooldown_counter = cooldown; num_bad_epochs = 0
double ReduceLROnPlateau::step(double metric, double lr) {
  PlateauState& s = state_;
  ++s.last_epoch;
  if (is_improvement(options_.mode, options_.threshold, metric, s.best)) {
    s.best = metric;
    s.num_bad_epochs = 0;
  } else {
    ++s.num_bad_epochs;
  }
  if (s.cooldown_counter > 0) {
    --s.cooldown_counter;
    s.num_bad_epochs = 0;
  }
  if (s.num_bad_epochs > options_.patience) {
    const double new_lr = std::max(lr * options_.factor, options_.min_lr);
    if (lr - new_lr > options_.eps) lr = new_lr;
    s.cooldown_counter = options_.cooldown;
    s.num_bad_epochs = 0;
  }
  return lr;
}

bool EarlyStoppingState::operator==(const EarlyStoppingState& o) const {
  const bool same_best = (std::isnan(best) && std::isnan(o.best)) || best == o.best;
  return same_best && bad_epochs == o.bad_epochs;
}

EarlyStopping::EarlyStopping(const EarlyStoppingOptions& options) : options_(options) {
  ATTEND_CHECK(options.patience >= 0, "EarlyStopping", "patience ", options.patience, " is negative");
  ATTEND_CHECK(options.min_delta >= 0, "EarlyStopping", "min_delta ", options.min_delta, " is negative");
}

bool EarlyStopping::step(double metric) {
  EarlyStoppingState& s = state_;
  const double d = options_.min_delta;
  improved_ = std::isfinite(metric) &&
              (std::isnan(s.best) || (options_.mode == MetricMode::min ? metric < s.best - d : metric > s.best + d));
  if (improved_) {
    s.best = metric;
    s.bad_epochs = 0;
  } else {
    ++s.bad_epochs;
  }
  return options_.patience > 0 && s.bad_epochs >= options_.patience;
}

}  // namespace attend::train
