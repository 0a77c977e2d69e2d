#include "attend/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "attend/autograd/autograd.h"

namespace attend::train {
namespace {

constexpr const char* kOp = "Trainer";

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool better(MetricMode mode, double current, double best) {
  if (!std::isfinite(current)) return false;
  if (std::isnan(best)) return true;
  return mode == MetricMode::min ? current < best : current > best;
}

}  // namespace

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::epochs: return "epochs done";
    case StopReason::max_steps: return "max steps reached";
    case StopReason::time_limit: return "time limit reached";
    case StopReason::early_stopping: return "early stopping";
  }
  return "?";
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<long long>(std::llround(seconds));
  const long long h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buf[64];
  if (h > 0)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", h, m, s);
  else if (m > 0)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", m, s);
  else
    std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

std::string format_rate(double per_second) {
  char buf[64];
  if (!std::isfinite(per_second) || per_second < 0)
    std::snprintf(buf, sizeof buf, "?");
  else if (per_second >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", per_second / 1e6);
  else if (per_second >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1fk", per_second / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", per_second);
  return buf;
}

namespace {

// " | aux a 0.0123 b 0.4000" (nothing without terms).
std::string format_terms(const std::vector<std::pair<std::string, double>>& terms) {
  if (terms.empty()) return "";
  std::string s = " | aux";
  char buf[64];
  for (const auto& [name, value] : terms) {
    std::snprintf(buf, sizeof buf, " %.4f", value);
    s += " " + name + buf;
  }
  return s;
}

}  // namespace

std::string format_progress(const ProgressSnapshot& s) {
  char buf[320];
  std::snprintf(buf, sizeof buf, "epoch %lld/%lld | batch %lld/%lld | step %lld | loss %.4f",
                static_cast<long long>(s.epoch + 1), static_cast<long long>(s.epochs), static_cast<long long>(s.batch),
                static_cast<long long>(s.batches_in_epoch), static_cast<long long>(s.step), s.mean_loss);
  std::string line = buf + format_terms(s.terms);
  std::snprintf(buf, sizeof buf, " | %s tok/s | lr %.2e | eta %s epoch, %s run",
                format_rate(s.tokens_per_second).c_str(), s.lr, format_duration(s.eta_epoch_s).c_str(),
                format_duration(s.eta_run_s).c_str());
  return line + buf;
}

Trainer::Trainer(nn::Module& model, Optimizer& optimizer, data::BatchStream& batches, Objective& objective,
                 TrainerOptions options)
    : model_(model),
      optimizer_(optimizer),
      batches_(batches),
      objective_(objective),
      options_(std::move(options)),
      early_(EarlyStoppingOptions{.mode = options_.metric_mode, .patience = options_.patience}) {
  const TrainerOptions& o = options_;
  ATTEND_CHECK(o.epochs >= 1, kOp, "epochs ", o.epochs, " is not positive");
  ATTEND_CHECK(o.max_steps >= 0, kOp, "max_steps ", o.max_steps, " is negative");
  ATTEND_CHECK(o.max_time_s >= 0 && std::isfinite(o.max_time_s), kOp, "max_time_s ", o.max_time_s,
               " is negative or not finite");
  ATTEND_CHECK(o.checkpoint_every >= 0, kOp, "checkpoint_every ", o.checkpoint_every, " is negative");
  ATTEND_CHECK(o.clip >= 0 && std::isfinite(o.clip), kOp, "clip ", o.clip, " is not a finite number >= 0");
  ATTEND_CHECK(o.log_every >= 1, kOp, "log_every ", o.log_every, " is not positive");
  ATTEND_CHECK(o.max_consecutive_nonfinite >= 1, kOp, "max_consecutive_nonfinite ", o.max_consecutive_nonfinite,
               " is not positive");
  ATTEND_CHECK(objective_.validates() || (o.patience == 0 && !o.plateau && o.best_path.empty()), kOp,
               "early stopping, the LR plateau and keeping the best model need a validation set (the objective "
               "has none)");
  ATTEND_CHECK(!(o.plateau && o.schedule), kOp, "a per-step lr schedule and the LR plateau both set the rate: use one");
  if (o.schedule) check_lr_schedule(*o.schedule);
  base_lr_ = optimizer_.lr();
  if (o.plateau) {
    PlateauOptions p = *o.plateau;
    p.mode = o.metric_mode;
    plateau_.emplace(p);
    state_.plateau = plateau_->state();
  }
  state_.early_stopping = early_.state();
  if (o.rng != nullptr) {
    state_.rng_seed = o.rng->seed();
    state_.rng_offset = o.rng->offset();
  }
  const data::BatchPosition pos = batches_.position();
  state_.epoch = pos.epoch;
  state_.batch_in_epoch = pos.batch;
}

std::vector<std::pair<std::string, double>> Trainer::term_means() const {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [name, sum] : term_sums_)
    out.emplace_back(name, sum.second > 0 ? sum.first / static_cast<double>(sum.second) : 0.0);
  return out;
}

double Trainer::now() const { return options_.clock ? options_.clock() : steady_seconds(); }

void Trainer::sync_state() {
  const data::BatchPosition pos = batches_.position();
  state_.epoch = pos.epoch;
  state_.batch_in_epoch = pos.batch;
  if (options_.rng != nullptr) {
    state_.rng_seed = options_.rng->seed();
    state_.rng_offset = options_.rng->offset();
  }
  if (plateau_) state_.plateau = plateau_->state();
  state_.early_stopping = early_.state();
}

void Trainer::save(const std::string& path) {
  sync_state();
  CheckpointInfo info = options_.info;
  info.trainer = state_;
  save_checkpoint(path, model_, &optimizer_, info);
  if (path == options_.checkpoint_path) last_saved_step_ = state_.global_step;
}

CheckpointInfo Trainer::resume(const std::string& path) {
  CheckpointInfo info = load_checkpoint(path, model_, &optimizer_);
  const TrainerState& s = info.trainer;
  batches_.seek(data::BatchPosition{.epoch = s.epoch, .batch = s.batch_in_epoch});
  if (options_.rng != nullptr) options_.rng->set_state(s.rng_seed, s.rng_offset);
  if (plateau_) plateau_->set_state(s.plateau);
  early_.set_state(s.early_stopping);
  state_ = s;
  last_saved_step_ = s.global_step;
  return info;
}

void Trainer::maybe_log(bool force) {
  if (options_.log == nullptr && !options_.on_progress) return;
  const double t = now();
  if (!force && (state_.global_step % options_.log_every != 0 || t - last_log_time_ < options_.log_interval_s))
    return;
  last_log_time_ = t;
  const double epoch_elapsed = t - epoch_start_time_;
  const double per_step = session_epoch_steps_ > 0 ? epoch_elapsed / static_cast<double>(session_epoch_steps_) : -1;
  const int64_t done = state_.epoch_steps;
  const int64_t left_in_epoch = std::max<int64_t>(0, current_epoch_batches_ - done);
  int64_t left_in_run = left_in_epoch + (options_.epochs - state_.epoch - 1) * current_epoch_batches_;
  if (options_.max_steps > 0) left_in_run = std::min(left_in_run, options_.max_steps - state_.global_step);
  ProgressSnapshot s{
      .epoch = state_.epoch,
      .epochs = options_.epochs,
      .batch = done,
      .batches_in_epoch = current_epoch_batches_,
      .step = state_.global_step,
      .mean_loss = state_.epoch_tokens > 0 ? state_.epoch_loss_sum / static_cast<double>(state_.epoch_tokens)
                                           : std::numeric_limits<double>::quiet_NaN(),
      .tokens_per_second = epoch_elapsed > 0 ? static_cast<double>(session_epoch_tokens_) / epoch_elapsed : 0.0,
      .lr = optimizer_.lr(),
      .eta_epoch_s = per_step >= 0 ? per_step * static_cast<double>(left_in_epoch) : -1,
      .eta_run_s = per_step >= 0 ? per_step * static_cast<double>(std::max<int64_t>(0, left_in_run)) : -1,
      .terms = term_means(),
  };
  if (options_.max_time_s > 0 && s.eta_run_s >= 0)
    s.eta_run_s = std::min(s.eta_run_s, std::max(0.0, options_.max_time_s - (t - session_start_time_)));
  if (options_.log != nullptr) *options_.log << format_progress(s) << '\n' << std::flush;
  if (options_.on_progress) options_.on_progress(s);
}

void Trainer::train_step(FitResult& result) {
  const data::BatchPosition pos = batches_.position();
  if (pos.batch == 0 || current_epoch_batches_ == 0) current_epoch_batches_ = batches_.batches_in_epoch();
  const data::Batch batch = batches_.next();
  model_.train();
  optimizer_.zero_grad();
  const StepLoss sl = objective_.loss(batch);
  ATTEND_CHECK(sl.loss.defined() && sl.loss.numel() == 1, kOp, "the objective returned ",
               sl.loss.defined() ? sl.loss.str() : std::string("an undefined tensor"), ", expected a scalar");
  const double loss = sl.loss.item();
  bool finite = std::isfinite(loss);
  if (finite) {
    sl.loss.backward();
    const NamedParameters& params = optimizer_.params();
    const double norm = options_.clip > 0 ? clip_grad_norm(params, options_.clip) : grad_norm(params);
    finite = std::isfinite(norm);
  }
  ++state_.global_step;
  ++session_steps_;
  ++session_epoch_steps_;
  ++state_.epoch_steps;
  result.losses.push_back(finite ? loss : std::numeric_limits<double>::quiet_NaN());
  if (finite) {
    if (options_.schedule) optimizer_.set_lr(scheduled_lr(*options_.schedule, base_lr_, state_.global_step));
    optimizer_.step();
    ++state_.updates;
    state_.nonfinite_streak = 0;
    state_.epoch_loss_sum += loss * static_cast<double>(sl.tokens);
    state_.epoch_tokens += sl.tokens;
    session_epoch_tokens_ += sl.tokens;
    for (const auto& [name, value] : sl.terms) {
      auto it = std::find_if(term_sums_.begin(), term_sums_.end(), [&name = name](const auto& t) { return t.first == name; });
      if (it == term_sums_.end()) it = term_sums_.insert(term_sums_.end(), {name, {0.0, 0}});
      it->second.first += value * static_cast<double>(sl.tokens);
      it->second.second += sl.tokens;
    }
  } else {
    ++state_.skipped_steps;
    ++state_.nonfinite_streak;
    if (options_.log != nullptr)
      *options_.log << "warning: step " << state_.global_step << " (epoch " << pos.epoch + 1 << ", batch "
                    << pos.batch + 1 << "): non-finite " << (std::isfinite(loss) ? "gradient norm" : "loss")
                    << ", update skipped (" << state_.nonfinite_streak << " in a row)\n";
  }
  optimizer_.zero_grad();
  ATTEND_CHECK(state_.nonfinite_streak < options_.max_consecutive_nonfinite, kOp, state_.nonfinite_streak,
               " consecutive steps with a non-finite loss or gradient (last: step ", state_.global_step, ", epoch ",
               pos.epoch + 1, ", batch ", pos.batch + 1, ", loss ", loss,
               "); training stopped. Lower the learning rate, enable clipping or resume from the last checkpoint");
  const data::BatchPosition after = batches_.position();
  state_.epoch = after.epoch;
  state_.batch_in_epoch = after.batch;
}

bool Trainer::end_epoch(int64_t epoch, FitResult& result) {
  const double elapsed = now() - epoch_start_time_;
  Metrics metrics;
  bool stop = false;
  if (objective_.validates()) {
    model_.eval();
    {
      NoGrad no_grad;
      metrics = objective_.validate();
    }
    model_.train();
    result.validations.push_back(metrics);
    const bool needs_metric = options_.patience > 0 || plateau_ || !options_.best_path.empty();
    const auto it = metrics.find(options_.metric);
    ATTEND_CHECK(!needs_metric || it != metrics.end(), kOp, "validation returned no metric '", options_.metric,
                 "' (it returned ", metrics.size(), " metrics)");
    if (it != metrics.end()) {
      const double m = it->second;
      if (plateau_) optimizer_.set_lr(plateau_->step(m, optimizer_.lr()));
      stop = early_.step(m) && options_.patience > 0;
      if (better(options_.metric_mode, m, state_.best_metric)) {
        state_.best_metric = m;
        if (!options_.best_path.empty()) {
          sync_state();
          CheckpointInfo info = options_.info;
          info.trainer = state_;
          save_checkpoint(options_.best_path, model_, nullptr, info);
        }
      }
    }
  }
  if (options_.log != nullptr) {
    char buf[256];
    const double mean = state_.epoch_tokens > 0 ? state_.epoch_loss_sum / static_cast<double>(state_.epoch_tokens)
                                                : std::numeric_limits<double>::quiet_NaN();
    std::snprintf(buf, sizeof buf, "epoch %lld/%lld done | %lld batches | loss %.4f | %s tok/s | %s | skipped %lld",
                  static_cast<long long>(epoch + 1), static_cast<long long>(options_.epochs),
                  static_cast<long long>(state_.epoch_steps), mean,
                  format_rate(elapsed > 0 ? static_cast<double>(session_epoch_tokens_) / elapsed : 0.0).c_str(),
                  format_duration(elapsed).c_str(), static_cast<long long>(state_.skipped_steps));
    std::string line = buf + format_terms(term_means());
    if (!metrics.empty()) {
      line += " | valid";
      for (const auto& [name, value] : metrics) {
        std::snprintf(buf, sizeof buf, " %s %.4f", name.c_str(), value);
        line += buf;
      }
    }
    std::snprintf(buf, sizeof buf, " | lr %.2e", optimizer_.lr());
    line += buf;
    if (stop) line += " | early stopping: no improvement of '" + options_.metric + "' in " +
                      std::to_string(options_.patience) + " epochs";
    *options_.log << line << '\n' << std::flush;
  }
  state_.epoch_loss_sum = 0.0;
  state_.epoch_tokens = 0;
  state_.epoch_steps = 0;
  term_sums_.clear();
  session_epoch_steps_ = 0;
  session_epoch_tokens_ = 0;
  epoch_start_time_ = now();
  current_epoch_batches_ = 0;
  if (!options_.checkpoint_path.empty()) save(options_.checkpoint_path);
  return stop;
}

FitResult Trainer::fit() {
  FitResult result;
  session_start_time_ = now();
  epoch_start_time_ = session_start_time_;
  session_steps_ = 0;
  session_epoch_steps_ = 0;
  session_epoch_tokens_ = 0;
  current_epoch_batches_ = 0;
  while (true) {
    if (options_.max_steps > 0 && state_.global_step >= options_.max_steps) {
      result.reason = StopReason::max_steps;
      break;
    }
    if (options_.max_time_s > 0 && now() - session_start_time_ >= options_.max_time_s) {
      result.reason = StopReason::time_limit;
      break;
    }
    const int64_t epoch = batches_.position().epoch;
    if (epoch >= options_.epochs) {
      result.reason = StopReason::epochs;
      break;
    }
    train_step(result);
    if (batches_.position().epoch != epoch) {  // the epoch's last batch: its summary line instead
      if (end_epoch(epoch, result)) {
        result.reason = StopReason::early_stopping;
        break;
      }
      continue;
    }
    maybe_log(false);
    if (options_.checkpoint_every > 0 && state_.global_step % options_.checkpoint_every == 0 &&
        !options_.checkpoint_path.empty())
      save(options_.checkpoint_path);
  }
  if (!options_.checkpoint_path.empty() && last_saved_step_ != state_.global_step) save(options_.checkpoint_path);
  sync_state();
  result.state = state_;
  if (options_.log != nullptr)
    *options_.log << "training stopped (" << stop_reason_name(result.reason) << ") after " << state_.global_step
                  << " steps, " << format_duration(now() - session_start_time_) << '\n'
                  << std::flush;
  return result;
}

}  // namespace attend::train
