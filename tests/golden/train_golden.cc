// Golden values from PyTorch 1.13 (scripts/golden/make_train_golden.py): torch.optim.Adam and SGD
// for a few steps on fixed gradients, ReduceLROnPlateau's learning-rate sequence, and corpus BLEU
// from a Python re-implementation of sacreBLEU (with Python's own regexes for the 13a tokenizer).
#include <gtest/gtest.h>

#include <memory>

#include "attend/train/metrics.h"
#include "attend/train/optimizer.h"
#include "attend/train/schedule.h"
#include "support/check.h"
#include "support/golden.h"

namespace attend::train {
namespace {

using test::Golden;

// Runs `make(params)` for the golden's steps, feeding its gradients, and compares the parameters
// after every step and the final state with PyTorch's (float32 both sides).
template <typename Make>
void check_optimizer_golden(const std::string& name, Make make) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load(name);
  NamedParameters params;
  for (const char* p : {"w", "b"})
    params.emplace_back(p, g.tensor(std::string("param.") + p, DType::f32).set_requires_grad());
  std::unique_ptr<Optimizer> opt = make(params, g);
  for (int64_t s = 0; s < g.config_int("steps"); ++s) {
    for (auto& [p, t] : params) {
      t.zero_grad();
      const Tensor grad = g.tensor("grad." + std::to_string(s) + "." + p, DType::f32);
      t.impl().grad = grad.impl_ptr();
    }
    opt->step();
    for (const auto& [p, t] : params)
      EXPECT_TRUE(test::all_close(t, g.tensor("after." + std::to_string(s) + "." + p, DType::f32), 1e-6, 1e-5))
          << "step " << s << " parameter " << p;
  }
  const OptimizerState st = opt->state_dict();
  for (const auto& [p, t] : params) {
    for (const auto& slot : opt->slots()) {
      if (slot == "step") {
        EXPECT_EQ(st.tensors.at(p + ".step").item(), static_cast<double>(g.config_int("steps")));
        continue;
      }
      EXPECT_TRUE(test::all_close(st.tensors.at(p + "." + slot), g.tensor("state." + slot + "." + p, DType::f32),
                                  1e-6, 1e-5))
          << slot << " of " << p;
    }
  }
}

std::unique_ptr<Optimizer> make_adam(const NamedParameters& params, const Golden& g) {
  return std::make_unique<Adam>(params, AdamOptions{.lr = g.config_double("lr"),
                                                    .beta1 = g.config_double("beta1"),
                                                    .beta2 = g.config_double("beta2"),
                                                    .eps = g.config_double("eps"),
                                                    .weight_decay = g.config_double("weight_decay")});
}

std::unique_ptr<Optimizer> make_sgd(const NamedParameters& params, const Golden& g) {
  return std::make_unique<SGD>(params, SgdOptions{.lr = g.config_double("lr"),
                                                  .momentum = g.config_double("momentum"),
                                                  .dampening = g.config_double("dampening"),
                                                  .weight_decay = g.config_double("weight_decay"),
                                                  .nesterov = g.config_bool("nesterov")});
}

TEST(GoldenTrain, AdamMatchesPyTorch) { check_optimizer_golden("train_adam", make_adam); }
TEST(GoldenTrain, AdamWithWeightDecayMatchesPyTorch) { check_optimizer_golden("train_adam_wd", make_adam); }
TEST(GoldenTrain, SgdMomentumDampeningWeightDecayMatchesPyTorch) {
  check_optimizer_golden("train_sgd_momentum", make_sgd);
}
TEST(GoldenTrain, SgdNesterovMatchesPyTorch) { check_optimizer_golden("train_sgd_nesterov", make_sgd); }

TEST(GoldenTrain, ReduceLROnPlateauSequenceMatchesPyTorch) {
  const Golden g = Golden::load("train_plateau");
  ReduceLROnPlateau sched(PlateauOptions{.mode = MetricMode::min,
                                         .factor = g.config_double("factor"),
                                         .patience = g.config_int("patience"),
                                         .threshold = g.config_double("threshold"),
                                         .cooldown = g.config_int("cooldown"),
                                         .min_lr = g.config_double("min_lr")});
  const std::vector<double> metrics = g.tensor("metrics").to_vector<double>();
  const std::vector<double> lrs = g.tensor("lrs").to_vector<double>();
  double lr = 1.0;
  for (size_t i = 0; i < metrics.size(); ++i) {
    lr = sched.step(metrics[i], lr);
    EXPECT_DOUBLE_EQ(lr, lrs[i]) << "after metric " << i << " (" << metrics[i] << ")";
  }
}

void check_bleu_golden(const std::string& name) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load(name);
  const std::vector<std::string> hyps = g.config_strings("hyps");
  const std::vector<std::string> refs = g.config_strings("refs");
  const std::vector<std::string> tokenized = g.config_strings("tokenized_hyps");
  for (size_t i = 0; i < hyps.size(); ++i) EXPECT_EQ(tokenize_13a(hyps[i]), tokenized[i]);
  const BleuScore b = corpus_bleu(hyps, {refs});
  EXPECT_NEAR(b.score, g.tensor("score").item(), 1e-9);
  EXPECT_NEAR(b.brevity_penalty, g.tensor("bp").item(), 1e-12);
  const std::vector<double> p = g.tensor("precisions").to_vector<double>();
  for (size_t n = 0; n < 4; ++n) EXPECT_NEAR(b.precisions[n], p[n], 1e-9) << n + 1 << "-gram precision";
  EXPECT_EQ(b.sys_len, g.config_int("sys_len"));
  EXPECT_EQ(b.ref_len, g.config_int("ref_len"));
}

TEST(GoldenTrain, BleuMatchesSacreBleuReimplementation) {
  check_bleu_golden("train_bleu_mt");
  check_bleu_golden("train_bleu_smooth");
  check_bleu_golden("train_bleu_long");
}

}  // namespace
}  // namespace attend::train
