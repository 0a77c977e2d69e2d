// The training loop end to end on a tiny tagger: the loss falls; an interrupted run resumed from
// its checkpoint gives bit-identical losses, weights and state to the uninterrupted run; NaN losses
// are skipped and K in a row stop training; early stopping and the best checkpoint; the progress
// line (rate, ETA) with an injected clock.
#include <gtest/gtest.h>

#include "support/temp_dir.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <regex>
#include <sstream>

#include "unit/train_tiny_model.h"
#include "attend/ops/elementwise.h"
#include "attend/train/trainer.h"

namespace attend::train {
namespace {

namespace fs = std::filesystem;
using test::TinyTagger;

constexpr int64_t kVocab = 14;

// Everything one training run owns, built identically from a seed.
struct TrainRun {
  Rng init_rng;
  TinyTagger model;
  Rng train_rng;
  Adam adam;
  data::Batcher batches;
  data::Batcher valid;
  std::vector<double> losses_seen;  // every loss the loss function computed, in order
  std::vector<int64_t> tokens_seen;
  std::function<void(int64_t step, StepLoss&)> tamper;  // tests change a step's loss here
  double fake_time = 0.0;
  double seconds_per_step = 0.0;

  explicit TrainRun(uint64_t model_seed = 1)
      : init_rng(model_seed),
        model(kVocab, 8, init_rng, 0.2),
        train_rng(77),
        adam(model.named_parameters(), AdamOptions{.lr = 0.05}),
        batches(test::tiny_examples(40, kVocab, 11), data::BatchingOptions{.max_sentences = 6, .seed = 5}),
        valid(test::tiny_examples(12, kVocab, 12), data::BatchingOptions{.max_sentences = 12, .shuffle = false}) {}

  LossFn loss_fn() {
    return [this](const data::Batch& b) {
      StepLoss sl = test::tiny_loss(model, b, train_rng);
      if (tamper) tamper(static_cast<int64_t>(losses_seen.size()), sl);
      losses_seen.push_back(sl.loss.item());
      tokens_seen.push_back(sl.tokens);
      fake_time += seconds_per_step;
      return sl;
    };
  }
  ValidateFn validate_fn() {
    return [this] {
      double nll = 0;
      int64_t tokens = 0;
      valid.seek({0, 0});
      for (int64_t i = 0; i < valid.batches_in_epoch(); ++i) {
        const StepLoss sl = test::tiny_loss(model, valid.next(), train_rng);
        nll += sl.loss.item() * static_cast<double>(sl.tokens);
        tokens += sl.tokens;
      }
      return Metrics{{"loss", nll / static_cast<double>(tokens)}};
    };
  }
  TrainerOptions options(TrainerOptions o) {
    o.rng = &train_rng;
    o.log = nullptr;
    o.clock = [this] { return fake_time; };
    return o;
  }
  std::vector<std::vector<float>> weights() const {
    std::vector<std::vector<float>> out;
    for (const auto& [name, p] : model.named_parameters()) out.push_back(p.to_vector<float>());
    return out;
  }
};

class TrainTrainer : public test::TempDirTest {};

TrainerOptions base_options() {
  return TrainerOptions{.epochs = 4,
                        .clip = 1.0,
                        .plateau = PlateauOptions{.factor = 0.5, .patience = 0, .threshold = 0.05},
                        .info = CheckpointInfo{.model_config = "{\"tiny\": true}"}};
}

TEST_F(TrainTrainer, LossFallsAndEpochsAreCounted) {
  TrainRun run;
  FunctionObjective trainer_objective(run.loss_fn(), run.validate_fn());
  Trainer trainer(run.model, run.adam, run.batches, trainer_objective, run.options(base_options()));
  const FitResult r = trainer.fit();
  EXPECT_EQ(r.reason, StopReason::epochs);
  ASSERT_EQ(r.validations.size(), 4u);
  EXPECT_LT(r.validations.back().at("loss"), 0.7 * r.validations.front().at("loss"));
  EXPECT_EQ(r.state.epoch, 4);
  EXPECT_EQ(r.state.batch_in_epoch, 0);
  EXPECT_EQ(r.state.global_step, static_cast<int64_t>(r.losses.size()));
  EXPECT_EQ(r.state.updates, r.state.global_step);
  EXPECT_FALSE(std::isnan(r.state.best_metric));
}

TEST_F(TrainTrainer, ResumeFromCheckpointIsBitIdentical) {
  // Uninterrupted reference run.
  TrainRun full;
  FunctionObjective a_objective(full.loss_fn(), full.validate_fn());
  Trainer a(full.model, full.adam, full.batches, a_objective, full.options(base_options()));
  const FitResult ra = a.fit();
  const int64_t n = static_cast<int64_t>(ra.losses.size());
  ASSERT_GT(n, 20);

  // The same run checkpointing every 5 steps, "crashing" in the middle of the second epoch.
  const int64_t k = 5 * (n / 10) + 5;  // a checkpoint step past the first epoch end
  const int64_t crash_at = k + 3;
  TrainRun first;
  first.tamper = [&](int64_t step, StepLoss&) {
    if (step == crash_at) throw std::runtime_error("simulated crash");
  };
  TrainerOptions o = base_options();
  o.checkpoint_path = path("ck.safetensors");
  o.checkpoint_every = 5;
  FunctionObjective b_objective(first.loss_fn(), first.validate_fn());
  Trainer b(first.model, first.adam, first.batches, b_objective, first.options(o));
  EXPECT_THROW(b.fit(), std::runtime_error);
  const TrainerState at_k = read_checkpoint_info(o.checkpoint_path).trainer;
  ASSERT_EQ(at_k.global_step, k);
  ASSERT_GE(at_k.epoch, 1);
  ASSERT_GT(at_k.batch_in_epoch, 0);

  // A fresh process: other initial weights, other Rng position, resumed from the checkpoint.
  TrainRun second(999);
  second.train_rng.set_state(1, 12345);
  FunctionObjective c_objective(second.loss_fn(), second.validate_fn());
  Trainer c(second.model, second.adam, second.batches, c_objective, second.options(o));
  c.resume(o.checkpoint_path);
  const FitResult rc = c.fit();

  ASSERT_EQ(static_cast<int64_t>(rc.losses.size()), n - k);
  for (int64_t i = 0; i < n - k; ++i)
    ASSERT_EQ(rc.losses[static_cast<size_t>(i)], ra.losses[static_cast<size_t>(k + i)]) << "step " << k + i;
  for (int64_t i = 0; i < k; ++i)
    ASSERT_EQ(first.losses_seen[static_cast<size_t>(i)], ra.losses[static_cast<size_t>(i)]) << "step " << i;
  EXPECT_EQ(second.weights(), full.weights());
  EXPECT_EQ(rc.state, ra.state);
  EXPECT_EQ(second.adam.lr(), full.adam.lr());
  const OptimizerState sa = full.adam.state_dict(), sc = second.adam.state_dict();
  for (const auto& [key, t] : sa.tensors) EXPECT_EQ(t.to_vector<double>(), sc.tensors.at(key).to_vector<double>());
  // The last validations (after the resume) agree too.
  EXPECT_EQ(rc.validations.back(), ra.validations.back());
}

TEST_F(TrainTrainer, NonFiniteLossIsSkippedWithoutUpdate) {
  TrainRun run;
  std::vector<std::vector<float>> before_step;
  run.tamper = [&](int64_t step, StepLoss& sl) {
    if (step == 3 || step == 4 || step == 9) {
      before_step = run.weights();
      sl.loss = sl.loss * std::numeric_limits<double>::quiet_NaN();
    }
  };
  TrainerOptions o = base_options();
  o.max_steps = 12;
  FunctionObjective t_objective(run.loss_fn(), run.validate_fn());
  Trainer t(run.model, run.adam, run.batches, t_objective, run.options(o));
  const FitResult r = t.fit();
  EXPECT_EQ(r.reason, StopReason::max_steps);
  EXPECT_EQ(r.state.global_step, 12);
  EXPECT_EQ(r.state.updates, 9);
  EXPECT_EQ(r.state.skipped_steps, 3);
  EXPECT_EQ(r.state.nonfinite_streak, 0);
  EXPECT_TRUE(std::isnan(r.losses[3]));
  EXPECT_TRUE(std::isnan(r.losses[9]));
  EXPECT_FALSE(std::isnan(r.losses[10]));
  // Adam took 9 steps, not 12.
  EXPECT_EQ(run.adam.state_dict().tensors.at("emb.step").item(), 9.0);
}

TEST_F(TrainTrainer, StopsAfterKNonFiniteStepsInARow) {
  TrainRun run;
  run.tamper = [&](int64_t step, StepLoss& sl) {
    if (step >= 2) sl.loss = sl.loss * std::numeric_limits<double>::infinity();
  };
  TrainerOptions o = base_options();
  o.max_consecutive_nonfinite = 4;
  FunctionObjective t_objective(run.loss_fn(), run.validate_fn());
  Trainer t(run.model, run.adam, run.batches, t_objective, run.options(o));
  try {
    t.fit();
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[Trainer] 4 consecutive steps with a non-finite loss or gradient (last: step 6"),
              std::string::npos)
        << m;
  }
  EXPECT_EQ(run.losses_seen.size(), 6u);
  EXPECT_EQ(t.state().updates, 2);
}

TEST_F(TrainTrainer, EarlyStoppingAndBestCheckpoint) {
  TrainRun run;
  int64_t validations = 0;
  // A validation metric that improves twice and then gets worse.
  const std::vector<double> metric{5.0, 4.0, 4.5, 4.6, 4.7, 4.8, 4.9};
  auto validate = [&] { return Metrics{{"loss", metric[static_cast<size_t>(validations++)]}}; };
  TrainerOptions o = base_options();
  o.epochs = 7;
  o.patience = 2;
  o.plateau.reset();
  o.best_path = path("best.safetensors");
  std::vector<float> emb_at_best;
  FunctionObjective objective(run.loss_fn(), [&] {
    const Metrics m = validate();
    if (validations == 2) emb_at_best = run.model.emb.to_vector<float>();
    return m;
  });
  Trainer t(run.model, run.adam, run.batches, objective, run.options(o));
  const FitResult r = t.fit();
  EXPECT_EQ(r.reason, StopReason::early_stopping);
  EXPECT_EQ(r.validations.size(), 4u);  // 5.0, 4.0 (best), 4.5, 4.6 -> stop
  EXPECT_EQ(r.state.best_metric, 4.0);
  TrainRun other(3);
  const CheckpointInfo info = load_checkpoint(o.best_path, other.model);
  EXPECT_EQ(other.model.emb.to_vector<float>(), emb_at_best);
  EXPECT_EQ(info.trainer.best_metric, 4.0);
  EXPECT_FALSE(info.has_optimizer);
}

TEST(TrainProgress, FormatsRateDurationAndLine) {
  EXPECT_EQ(format_duration(45.4), "45s");
  EXPECT_EQ(format_duration(83), "1m23s");
  EXPECT_EQ(format_duration(2 * 3600 + 5 * 60 + 7), "2h05m07s");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_rate(950), "950");
  EXPECT_EQ(format_rate(12345), "12.3k");
  EXPECT_EQ(format_rate(4.56e6), "4.56M");
  const ProgressSnapshot s{.epoch = 1, .epochs = 10, .batch = 56, .batches_in_epoch = 200, .step = 1234,
                           .mean_loss = 3.45671, .tokens_per_second = 12345, .lr = 1e-3, .eta_epoch_s = 83,
                           .eta_run_s = 725};
  EXPECT_EQ(format_progress(s),
            "epoch 2/10 | batch 56/200 | step 1234 | loss 3.4567 | 12.3k tok/s | lr 1.00e-03 | eta 1m23s epoch, "
            "12m05s run");
}

TEST_F(TrainTrainer, TimeLimitStopsBeforeTheStepThatWouldStartTooLate) {
  TrainRun run;
  run.seconds_per_step = 0.5;
  TrainerOptions o = base_options();
  o.epochs = 100;
  o.max_time_s = 3.2;  // steps start at 0, 0.5, ..., 3.0; the one at 3.5 would be past the limit
  const std::string ckpt = path("time.ckpt");
  o.checkpoint_path = ckpt;
  FunctionObjective trainer_objective(run.loss_fn(), run.validate_fn());
  Trainer trainer(run.model, run.adam, run.batches, trainer_objective, run.options(o));
  const FitResult r = trainer.fit();
  EXPECT_EQ(r.reason, StopReason::time_limit);
  EXPECT_EQ(r.state.global_step, 7);
  EXPECT_TRUE(fs::exists(ckpt));
  EXPECT_STREQ(stop_reason_name(StopReason::time_limit), "time limit reached");
  TrainerOptions bad = base_options();
  bad.max_time_s = -1;
  FunctionObjective objective(run.loss_fn(), run.validate_fn());
  EXPECT_THROW(Trainer(run.model, run.adam, run.batches, objective, run.options(bad)), Error);
}

TEST_F(TrainTrainer, ProgressLinesWithInjectedClock) {
  TrainRun run;
  run.seconds_per_step = 0.25;  // a fake clock: each step takes a quarter second
  std::ostringstream log;
  TrainerOptions o = base_options();
  o.epochs = 2;
  o.log_interval_s = 1.0;
  TrainerOptions with_log = run.options(o);
  with_log.log = &log;
  FunctionObjective logged_objective(run.loss_fn(), run.validate_fn());
  Trainer logged(run.model, run.adam, run.batches, logged_objective, with_log);
  const int64_t batches = run.batches.batches_in_epoch();
  const FitResult r = logged.fit();
  std::vector<std::string> lines;
  std::istringstream in(log.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_FALSE(lines.empty());
  // The first line comes after the first step: 1 batch done in 0.25 s.
  std::ostringstream first;
  first << "epoch 1/2 | batch 1/" << batches << " | step 1 | loss ";
  EXPECT_EQ(lines[0].rfind(first.str(), 0), 0u) << lines[0];
  const std::string rate = format_rate(static_cast<double>(run.tokens_seen[0]) / 0.25);
  EXPECT_NE(lines[0].find("| " + rate + " tok/s |"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("| eta " + format_duration(0.25 * static_cast<double>(batches - 1)) + " epoch, " +
                          format_duration(0.25 * static_cast<double>(2 * batches - 1)) + " run"),
            std::string::npos)
      << lines[0];
  // Then at most one line per second of the fake clock (every 4 steps), and a summary per epoch.
  int64_t progress = 0, summaries = 0;
  const std::regex summary(R"(^epoch \d/2 done \| \d+ batches \| loss \d+\.\d{4} \| .* tok/s \| .* \| skipped 0 \| valid loss \d+\.\d{4} \| lr .*)");
  const std::regex progress_line(R"(^epoch (\d)/2 \| batch (\d+)/(\d+) \| step \d+ \| loss .*)");
  for (const auto& l : lines) {
    std::smatch m;
    if (std::regex_match(l, summary)) {
      ++summaries;
    } else if (std::regex_match(l, m, progress_line)) {
      ++progress;
      // An epoch's last batch gets the summary line, not a progress line.
      EXPECT_LT(std::stoll(m[2].str()), std::stoll(m[3].str())) << l;
    }
  }
  EXPECT_EQ(summaries, 2);
  const int64_t steps = static_cast<int64_t>(r.losses.size());
  EXPECT_LE(progress, 2 + steps / 4 + 1);
  EXPECT_GE(progress, steps / 4 - 1);
  EXPECT_NE(lines.back().find("training stopped (epochs done) after " + std::to_string(steps) + " steps"),
            std::string::npos)
      << lines.back();
}

// A model's auxiliary terms (an objective's StepLoss::terms) are reported by name beside the loss:
// the mean over the epoch's steps, weighted by their tokens, in the progress and summary lines.
TEST_F(TrainTrainer, AuxiliaryTermsAreReportedByName) {
  TrainRun run;
  run.seconds_per_step = 0.25;
  std::ostringstream log;
  TrainerOptions o = base_options();
  o.epochs = 1;
  o.log_every = 1;
  o.log_interval_s = 0.0;
  TrainerOptions with_log = run.options(o);
  with_log.log = &log;
  const LossFn base = run.loss_fn();
  int64_t step = 0;
  FunctionObjective objective([&](const data::Batch& b) {
    StepLoss s = base(b);
    ++step;
    s.terms = {{"reg", 0.5}, {"penalty", step % 2 == 0 ? 0.25 : 0.75}};  // mean 0.5 over pairs of steps
    return s;
  }, run.validate_fn());
  Trainer t(run.model, run.adam, run.batches, objective, with_log);
  t.fit();
  const std::string text = log.str();
  EXPECT_NE(text.find("| step 1 | loss "), std::string::npos) << text;
  const std::regex progress(R"(\| step 1 \| loss \d+\.\d{4} \| aux reg 0\.5000 penalty 0\.7500 \| )");
  EXPECT_TRUE(std::regex_search(text, progress)) << text;
  const std::regex summary(R"(epoch 1/1 done \| .* \| skipped 0 \| aux reg 0\.5000 penalty 0\.\d{4} \| valid loss)");
  EXPECT_TRUE(std::regex_search(text, summary)) << text;
}

}  // namespace
}  // namespace attend::train
