#include "attend/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

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

const char* lr_schedule_name(LrSchedule s) {
  switch (s) {
    case LrSchedule::constant: return "constant";
    case LrSchedule::noam: return "noam";
    case LrSchedule::cosine: return "cosine";
  }
  return "?";
}

LrSchedule parse_lr_schedule(const std::string& name) {
  for (const LrSchedule s : {LrSchedule::constant, LrSchedule::noam, LrSchedule::cosine})
    if (name == lr_schedule_name(s)) return s;
  throw Error("lr_schedule", "unknown schedule '" + name + "' (known: constant, noam, cosine)");
}

void check_lr_schedule(const LrScheduleOptions& o) {
  constexpr const char* op = "lr_schedule";
  ATTEND_CHECK(o.warmup >= 0, op, "warmup ", o.warmup, " is negative");
  ATTEND_CHECK(o.kind != LrSchedule::noam || o.warmup > 0, op, "noam needs warmup > 0 steps");
  ATTEND_CHECK(o.kind != LrSchedule::cosine || o.total_steps > o.warmup, op, "cosine: total_steps ", o.total_steps,
               " must exceed warmup ", o.warmup);
  ATTEND_CHECK(o.min_lr >= 0.0 && std::isfinite(o.min_lr), op, "min_lr ", o.min_lr, " must be finite and >= 0");
}

double scheduled_lr(const LrScheduleOptions& o, double lr, int64_t step) {
  const double s = static_cast<double>(std::max<int64_t>(step, 1));
  const double w = static_cast<double>(o.warmup);
  switch (o.kind) {
    case LrSchedule::constant:
      return o.warmup > 0 ? lr * std::min(1.0, s / w) : lr;
    case LrSchedule::noam:
      return lr * std::min(s / w, std::sqrt(w / s));
    case LrSchedule::cosine: {
      if (o.warmup > 0 && s < w) return lr * s / w;
      const double p = std::min(1.0, (s - w) / static_cast<double>(o.total_steps - o.warmup));
      return o.min_lr + (lr - o.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
    }
  }
  return lr;
}

}  // namespace attend::train
