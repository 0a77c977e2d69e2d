// Golden tests (oracle 3): one training step of the `gpt` architecture against PyTorch 1.13, files
// made by scripts/golden/make_gpt_golden.py in float32, what attend trains in. PyTorch's model is
// GPT-2 from torch.nn pieces: nn.Embedding for tokens and positions, nn.TransformerEncoder of
// nn.TransformerEncoderLayer(norm_first=True, GELU, dropout 0, batch_first) under a -inf causal
// mask with a final nn.LayerNorm, the output tied to the token embedding or an nn.Linear without
// bias.
//
// The model is built through the registry from the file's config and loaded with PyTorch's
// parameters by name; the names (attend's named_parameters against PyTorch's, in order) must be the
// same. The batch is made by data::TokenWindows from the file's token stream and must equal the
// windows PyTorch read (the stream's short last window, with pad targets at its end, is in every
// case). Then the step of train::Trainer::train_step: train::LanguageModelObjective's loss (inputs
// windows[:, :-1], targets windows[:, 1:], pad targets ignored), backward, clip_grad_norm, one Adam
// step with the case's beta2 as app::train builds Adam. Compared: the logits, the loss and its token
// count, the gradient of every parameter, the total gradient norm, every parameter after the step
// and Adam's state (exp_avg, exp_avg_sq). Cases: tied output (2 layers of 2 heads), an output layer
// of its own (3 layers of 3 heads, the context filling max_positions, clipping inactive), one layer
// of one head with a batch of the short last window and one full window.
//
// Every file is an oracle for attend's f32 path: PyTorch ran in float32 too, so each comparison
// allows a few float32 roundings (constants below, those of models_golden_transformer_step.cc),
// except where Adam's first step turns float32 noise into a full step (adam_step_tolerance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "attend/data/batching.h"
#include "attend/models/registry.h"
#include "attend/models/tasks.h"
#include "attend/train/objectives.h"
#include "attend/train/optimizer.h"
#include "support/check.h"
#include "support/golden.h"

namespace attend {
namespace {

using test::Golden;

// Float32 on both sides, summed in different orders: the differences are float32 rounding (worst
// seen over the three cases: loss 4.6e-9, logits 2.0e-6 at |logit| < 3.7, gradients 2.8e-7, printed
// by each case; PyTorch's own float32 logits are up to 1.7e-6 from the float64 equations, which the
// generator prints). A real difference is far beyond these: the tanh GELU instead of erf moves the
// logits by 8e-4, LayerNorm eps 1e-6 instead of 1e-5 by 1e-4 and the gradients by 4e-5.
constexpr double kLossTol = 1e-6;   // relative
constexpr double kLogitTol = 5e-6;  // absolute and relative
constexpr double kGradTol = 5e-6;   // absolute and relative
constexpr double kParamTol = 1e-6;  // absolute and relative, plus Adam's sensitivity below
constexpr double kStateTol = 1e-6;  // absolute and relative: exp_avg = 0.1 c g, exp_avg_sq = (1 - beta2) (c g)^2

// How far one element may be off after Adam's first step (as in models_golden_transformer_step.cc).
// The step moves p by
//   u(g) = lr * c g / (c |g| + eps)     (bias-corrected m = c g, v = (c g)^2; c the clipping factor)
// that is almost lr * sign(g): insensitive to g where |g| >> eps / c, but a gradient within float32
// noise of zero (the key biases of every self-attention, whose exact gradient is 0 since softmax
// ignores a constant added to a query's scores) gets +-lr in whichever direction its rounding
// points. With g's tolerance d, |u(g + d) - u(g)| <= lr c d eps / (c (|g| - d) + eps)^2, and at most
// 2 lr. Where both gradients are exactly 0 (rows of positions beyond the context, token rows the
// batch does not use with an untied output), it must not move.
double adam_step_tolerance(double g, double mine, double lr, double c, double eps) {
  if (g == 0.0 && mine == 0.0) return 0.0;
  const double d = kGradTol * (1.0 + std::abs(g));
  const double low = std::max(std::abs(g) - d, 0.0);
  const double denom = c * low + eps;
  return std::min(2.0 * lr, lr * c * d * eps / (denom * denom));
}

std::unique_ptr<models::LanguageModel> model_of(const Golden& g) {
  std::map<std::string, std::string> v;
  for (const char* k :
       {"vocab", "pad_id", "eos_id", "d_model", "num_heads", "ffn_dim", "num_layers", "max_positions", "tie_output"})
    v[k] = std::to_string(g.config_int(k));
  v["dropout"] = std::to_string(g.config_double("dropout"));
  v["attention_dropout"] = std::to_string(g.config_double("attention_dropout"));
  v["activation"] = g.config_bool("gelu") ? "gelu" : "relu";
  Rng rng(1);
  return models::make_model_as<models::LanguageModel>(*models::make_config("gpt", v), rng);
}

// ids[:, begin:end]
Index columns(const Index& ids, int64_t begin, int64_t end) {
  const int64_t B = ids.shape[0], W = ids.shape[1];
  std::vector<int64_t> out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = begin; t < end; ++t) out.push_back(ids.data[static_cast<size_t>(b * W + t)]);
  return Index(std::move(out), Shape{B, end - begin});
}

void check_step(const std::string& name) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load(name);
  auto model = model_of(g);
  const int64_t pad = model->task_config().pad_id;

  // The same parameters, by the same names in the same order.
  std::vector<std::string> names;
  for (const auto& [n, p] : model->named_parameters()) names.push_back(n);
  ASSERT_EQ(names, g.config_strings("param_names"));
  std::map<std::string, Tensor> state;
  for (const std::string& n : names) state[n] = g.tensor("param." + n, DType::f32);
  model->load_state_dict(state, /*strict=*/true);

  // The batch as the trainer gets it: TokenWindows over the stream, the file's windows in its order.
  const Index want_windows = g.ints("windows");
  const std::vector<int64_t> ids = g.ints("window_ids").data;
  const data::TokenWindows windows(g.ints("stream").data, {.context = g.config_int("context"),
                                                           .batch = static_cast<int64_t>(ids.size()),
                                                           .shuffle = false,
                                                           .pad_id = pad});
  const data::Batch batch = windows.make_batch(ids);
  ASSERT_EQ(batch.tokens.shape, want_windows.shape);
  ASSERT_EQ(batch.tokens.data, want_windows.data);
  const int64_t W = batch.tokens.shape[1];
  const Index targets = columns(batch.tokens, 1, W);
  const int64_t counted = static_cast<int64_t>(std::count_if(targets.data.begin(), targets.data.end(),
                                                             [&](int64_t t) { return t != pad; }));
  ASSERT_LT(counted, targets.shape.numel()) << "the case has no pad target";

  // app::train's optimizer, train::Trainer::train_step's order.
  train::Adam adam(model->named_parameters(), {.lr = g.config_double("lr"), .beta2 = g.config_double("beta2")});
  EXPECT_EQ(adam.options().beta1, g.config_double("beta1"));
  EXPECT_EQ(adam.options().eps, g.config_double("eps"));
  EXPECT_EQ(adam.options().weight_decay, 0.0);
  train::LanguageModelObjective objective(*model, nullptr);

  model->train();
  adam.zero_grad();
  // The logits of the objective's forward pass (the same call, the same graph-building path).
  const Tensor logits = model->forward(columns(batch.tokens, 0, W - 1)).logits.detach();  // [B, T, V]
  EXPECT_TRUE(test::all_close(logits, g.tensor("logits", DType::f32), kLogitTol, kLogitTol));
  const train::StepLoss step = objective.loss(batch);
  EXPECT_EQ(step.tokens, counted);
  EXPECT_TRUE(step.terms.empty());
  const Tensor& loss = step.loss;
  const double want_loss = g.tensor("loss").item();
  EXPECT_NEAR(loss.item(), want_loss, kLossTol * std::abs(want_loss));
  // The objective is sequence_loss over the shifted windows, pad targets ignored.
  EXPECT_EQ(loss.item(), train::sequence_loss(logits, targets, {.pad_id = pad}).item());
  loss.backward();

  double grad_err = 0.0, param_err = 0.0;
  for (const auto& [n, p] : model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << n << " has no gradient";
    const Tensor want = g.tensor("grad." + n, DType::f32);
    EXPECT_TRUE(test::all_close(p.grad(), want, kGradTol, kGradTol)) << "gradient of " << n;
    grad_err = std::max(grad_err, test::max_abs_diff(p.grad(), want));
  }
  std::map<std::string, std::vector<double>> mine;  // attend's, before clipping
  for (const auto& [n, p] : model->named_parameters()) mine[n] = p.grad().to_vector<double>();
  const double norm = train::clip_grad_norm(adam.params(), g.config_double("clip"));
  const double want_norm = g.tensor("grad_norm").item();
  EXPECT_NEAR(norm, want_norm, 1e-5 * want_norm);
  const double c = std::min(1.0, g.config_double("clip") / (want_norm + 1e-6));  // clip_grad_norm's factor
  std::map<std::string, std::vector<double>> grads;  // the golden's, before clipping
  for (const auto& [n, p] : model->named_parameters())
    grads[n] = g.tensor("grad." + n, DType::f32).to_vector<double>();
  adam.step();
  int64_t loose = 0, elements = 0;  // elements whose Adam step float32 cannot pin down
  for (const auto& [n, p] : model->named_parameters()) {
    const std::vector<double> got = p.to_vector<double>();
    const std::vector<double> want = g.tensor("after." + n, DType::f32).to_vector<double>();
    const std::vector<double>& grad = grads.at(n);
    const std::vector<double>& own = mine.at(n);
    int64_t bad = 0, worst = -1;
    double worst_err = 0.0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double slack = adam_step_tolerance(grad[i], own[i], adam.lr(), c, adam.options().eps);
      loose += slack > kParamTol;
      const double err = std::abs(got[i] - want[i]);
      if (err > kParamTol * (1.0 + std::abs(want[i])) + slack) {
        ++bad;
        if (err > worst_err) worst_err = err, worst = static_cast<int64_t>(i);
      } else if (slack <= kParamTol) {
        param_err = std::max(param_err, err);
      }
    }
    elements += static_cast<int64_t>(got.size());
    EXPECT_EQ(bad, 0) << n << " after the Adam step: " << bad << " of " << got.size() << " elements differ, worst at "
                      << worst << ": " << (worst >= 0 ? got[static_cast<size_t>(worst)] : 0.0) << " vs PyTorch's "
                      << (worst >= 0 ? want[static_cast<size_t>(worst)] : 0.0) << " (gradient "
                      << (worst >= 0 ? grad[static_cast<size_t>(worst)] : 0.0) << ")";
  }
  // Adam's state after the step, which (unlike the step itself) depends on beta1, beta2 and the clipping.
  const train::OptimizerState st = adam.state_dict();
  double state_err = 0.0;
  for (const auto& [n, p] : model->named_parameters())
    for (const std::string slot : {"exp_avg", "exp_avg_sq"}) {
      const Tensor got = st.tensors.at(n + "." + slot), want = g.tensor(slot + "." + n, DType::f32);
      EXPECT_TRUE(test::all_close(got, want, kStateTol, kStateTol)) << slot << " of " << n;
      state_err = std::max(state_err, test::max_abs_diff(got, want));
    }
  std::printf(
      "[ %s ] max |diff|: loss %.3g, logits %.3g, gradients %.3g, grad norm %.3g, parameters after the step %.3g "
      "(over the %lld of %lld elements whose gradient is clear of float32 noise), Adam's state %.3g\n",
      name.c_str(), std::abs(loss.item() - want_loss), test::max_abs_diff(logits, g.tensor("logits", DType::f32)),
      grad_err, std::abs(norm - want_norm), param_err, static_cast<long long>(elements - loose),
      static_cast<long long>(elements), state_err);
  // The loose elements are the exception: the key biases (C of each self-attention's 3C in_proj_bias).
  EXPECT_LE(loose * 20, elements) << loose << " of " << elements << " elements have gradients within noise of 0";
}

TEST(GoldenGptStep, TiedOutputShortLastWindowClipped) { check_step("gpt_step_tied"); }
TEST(GoldenGptStep, OutputLayerOfItsOwnThreeLayersFullContext) { check_step("gpt_step_untied"); }
TEST(GoldenGptStep, OneLayerOneHead) { check_step("gpt_step_one_layer"); }

}  // namespace
}  // namespace attend
