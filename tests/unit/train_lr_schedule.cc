// Per-step learning-rate schedules (train/schedule.h): constant with warm-up, Noam's inverse
// square root (Vaswani et al. 2017, eq. 3), cosine; and their option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "attend/train/schedule.h"
#include "attend/train/trainer.h"
#include "support/check.h"
#include "train_tiny_model.h"

namespace attend {
namespace {

using train::LrSchedule;

TEST(TrainLrSchedule, NoamIsThePapersFormulaWithItsPeakAtWarmup) {
  const train::LrScheduleOptions o{.kind = LrSchedule::noam, .warmup = 4000};
  const double d_model = 512, peak = 1.0 / std::sqrt(d_model * 4000);
  for (const int64_t s : {1, 100, 3999, 4000, 4001, 20000, 100000}) {
    const double paper = std::pow(d_model, -0.5) * std::min(std::pow(s, -0.5), s * std::pow(4000.0, -1.5));
    EXPECT_NEAR(train::scheduled_lr(o, peak, s), paper, 1e-15) << "step " << s;
  }
  EXPECT_DOUBLE_EQ(train::scheduled_lr(o, 1e-3, 4000), 1e-3);
  EXPECT_DOUBLE_EQ(train::scheduled_lr(o, 1e-3, 16000), 5e-4);
}

TEST(TrainLrSchedule, ConstantWarmsUpLinearly) {
  EXPECT_DOUBLE_EQ(train::scheduled_lr({}, 2e-3, 7), 2e-3);
  const train::LrScheduleOptions o{.kind = LrSchedule::constant, .warmup = 10};
  EXPECT_DOUBLE_EQ(train::scheduled_lr(o, 2e-3, 5), 1e-3);
  EXPECT_DOUBLE_EQ(train::scheduled_lr(o, 2e-3, 10), 2e-3);
  EXPECT_DOUBLE_EQ(train::scheduled_lr(o, 2e-3, 1000), 2e-3);
}

TEST(TrainLrSchedule, CosineDecaysFromThePeakToTheFloor) {
  const train::LrScheduleOptions o{.kind = LrSchedule::cosine, .warmup = 10, .total_steps = 110, .min_lr = 1e-4};
  EXPECT_DOUBLE_EQ(train::scheduled_lr(o, 1e-3, 5), 5e-4);
  EXPECT_DOUBLE_EQ(train::scheduled_lr(o, 1e-3, 10), 1e-3);
  EXPECT_NEAR(train::scheduled_lr(o, 1e-3, 60), 1e-4 + 9e-4 * 0.5, 1e-15);
  EXPECT_NEAR(train::scheduled_lr(o, 1e-3, 35), 1e-4 + 9e-4 * 0.5 * (1 + std::cos(std::numbers::pi / 4)), 1e-15);
  EXPECT_DOUBLE_EQ(train::scheduled_lr(o, 1e-3, 110), 1e-4);
  EXPECT_DOUBLE_EQ(train::scheduled_lr(o, 1e-3, 500), 1e-4);
}

TEST(BadInputLrSchedule, OptionsAndNamesAreChecked) {
  test::expect_error([] { train::check_lr_schedule({.kind = LrSchedule::noam}); }, "[lr_schedule]", {"warmup > 0"});
  test::expect_error([] { train::check_lr_schedule({.kind = LrSchedule::cosine, .warmup = 5, .total_steps = 5}); },
                     "[lr_schedule]", {"total_steps 5", "warmup 5"});
  test::expect_error([] { train::check_lr_schedule({.warmup = -1}); }, "[lr_schedule]", {"warmup -1"});
  test::expect_error([] { train::parse_lr_schedule("linear"); }, "[lr_schedule]", {"'linear'", "noam"});
  EXPECT_EQ(train::parse_lr_schedule("cosine"), LrSchedule::cosine);
}

// The Trainer sets the scheduled rate before every optimizer step, from the optimizer's initial
// rate; a schedule and the plateau together are an error.
TEST(TrainLrSchedule, TrainerSetsTheRateOfEveryStep) {
  Rng rng(1), train_rng(2);
  test::TinyTagger model(12, 6, rng);
  train::Adam adam(model.named_parameters(), {.lr = 0.01});
  data::Batcher batches(test::tiny_examples(20, 12, 3), {.max_sentences = 4, .seed = 4});
  std::vector<double> rates;  // the optimizer's rate when the loss of each step is computed
  auto loss_fn = [&](const data::Batch& b) {
    rates.push_back(adam.lr());
    return test::tiny_loss(model, b, train_rng);
  };
  const train::LrScheduleOptions noam{.kind = LrSchedule::noam, .warmup = 3};
  train::FunctionObjective objective(loss_fn);
  train::Trainer trainer(model, adam, batches, objective,
                         {.epochs = 2, .schedule = noam, .log = nullptr, .rng = &train_rng});
  const train::FitResult r = trainer.fit();
  ASSERT_EQ(static_cast<int64_t>(rates.size()), r.state.global_step);
  ASSERT_GT(rates.size(), 6u);
  EXPECT_EQ(rates[0], 0.01);  // nothing set before the first step
  for (size_t i = 1; i < rates.size(); ++i)
    EXPECT_DOUBLE_EQ(rates[i], train::scheduled_lr(noam, 0.01, static_cast<int64_t>(i))) << "step " << i + 1;
  EXPECT_DOUBLE_EQ(adam.lr(), train::scheduled_lr(noam, 0.01, r.state.global_step));

  test::expect_error(
      [&] {
        train::FunctionObjective validating(loss_fn, [] { return train::Metrics{{"loss", 1.0}}; });
        train::Trainer both(model, adam, batches, validating,
                            {.plateau = train::PlateauOptions{}, .schedule = noam, .log = nullptr});
      },
      "[Trainer]", {"schedule", "plateau"});
}

}  // namespace
}  // namespace attend
