// Golden tests (oracle 3): one training step of the `transformer` architecture against PyTorch 1.13
// (torch.nn.Transformer, batch_first=True, dropout 0, with attend's embeddings, sinusoidal
// positions and output projection around it), files made by
// scripts/golden/make_transformer_step_golden.py in float32, what attend trains in.
//
// The model is built through the registry from the file's config and loaded with PyTorch's
// parameters by name; the names (attend's named_parameters against PyTorch's, in order) must be the
// same. Then the step of train::Trainer::train_step with the loss of app::train (the
// train::SequenceObjective: decoder_io, the fused output layer and cross-entropy with label
// smoothing, padding ignored), backward, clip_grad_norm, one Adam step with
// Adam built as app::train builds it (beta2 = 0.98 as the transformer recipe). Compared: the
// teacher-forcing ids, the logits, the loss, the gradient of every parameter, the total gradient
// norm, every parameter after the step and Adam's state (exp_avg, exp_avg_sq). Cases: post-norm
// (ReLU, separate source table, tied output, clipping active), pre-norm (GELU, shared tables, tied
// output, final encoder.norm and decoder.norm), pre-norm with an output layer of its own.
//
// Every file is an oracle for attend's f32 path: PyTorch ran in float32 too, so each comparison
// allows a few float32 roundings (constants below), except where Adam's first step turns float32
// noise into a full step (adam_step_tolerance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/models/encoder_decoder.h"
#include "attend/models/registry.h"
#include "attend/train/objectives.h"
#include "attend/train/optimizer.h"
#include "support/check.h"
#include "support/golden.h"
#include "support/models.h"

namespace attend {
namespace {

using test::Golden;

// Float32 on both sides, summed in different orders: the differences are float32 rounding (worst
// seen: loss 2.4e-7, logits 9.5e-7, gradients 1.4e-6, printed by each case).
constexpr double kLossTol = 1e-6;   // relative
constexpr double kLogitTol = 5e-6;  // absolute and relative
constexpr double kGradTol = 5e-6;   // absolute and relative
constexpr double kParamTol = 1e-6;  // absolute and relative, plus Adam's sensitivity below
constexpr double kStateTol = 1e-6;  // absolute and relative: exp_avg = 0.1 c g, exp_avg_sq = 0.02 (c g)^2

// How far one element may be off after Adam's first step. The step moves p by
//   u(g) = lr * c g / (c |g| + eps)     (bias-corrected m = c g, v = (c g)^2; c the clipping factor)
// that is almost lr * sign(g): insensitive to g where |g| >> eps / c, but a gradient within float32
// noise of zero (the key biases of every attention, whose exact gradient is 0 since softmax ignores a
// constant added to a query's scores) gets +-lr in whichever direction its rounding points. With
// g's tolerance d, |u(g + d) - u(g)| <= lr c d eps / (c (|g| - d) + eps)^2, and at most 2 lr.
// Where both gradients are exactly 0 (source embedding rows the batch does not use), it must not move.
double adam_step_tolerance(double g, double mine, double lr, double c, double eps) {
  if (g == 0.0 && mine == 0.0) return 0.0;
  const double d = kGradTol * (1.0 + std::abs(g));
  const double low = std::max(std::abs(g) - d, 0.0);
  const double denom = c * low + eps;
  return std::min(2.0 * lr, lr * c * d * eps / (denom * denom));
}

std::unique_ptr<models::EncoderDecoder> model_of(const Golden& g) {
  std::map<std::string, std::string> v;
  for (const char* k : {"src_vocab", "tgt_vocab", "pad_id", "bos_id", "eos_id", "d_model", "num_heads", "ffn_dim",
                        "encoder_layers", "decoder_layers", "norm_first", "max_positions", "share_embeddings",
                        "tie_output"})
    v[k] = std::to_string(g.config_int(k));
  v["dropout"] = std::to_string(g.config_double("dropout"));
  v["attention_dropout"] = std::to_string(g.config_double("attention_dropout"));
  v["activation"] = g.config_bool("gelu") ? "gelu" : "relu";
  v["positions"] = "sinusoidal";
  Rng rng(1);
  return models::make_model_as<models::EncoderDecoder>(*models::make_config("transformer", v), rng);
}

std::vector<int64_t> lengths_of(const Golden& g, const std::string& key) { return g.ints(key).data; }

void check_step(const std::string& name) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load(name);
  auto model = model_of(g);
  const models::ModelConfig& config = model->config();

  // The same parameters, by the same names in the same order.
  std::vector<std::string> names;
  for (const auto& [n, p] : model->named_parameters()) names.push_back(n);
  ASSERT_EQ(names, g.config_strings("param_names"));
  std::map<std::string, Tensor> state;
  for (const std::string& n : names) state[n] = g.tensor("param." + n, DType::f32);
  model->load_state_dict(state, /*strict=*/true);

  // app::train's optimizer and loss options, train::Trainer::train_step's order.
  train::Adam adam(model->named_parameters(), {.lr = g.config_double("lr"), .beta2 = g.config_double("beta2")});
  EXPECT_EQ(adam.options().beta1, g.config_double("beta1"));
  EXPECT_EQ(adam.options().eps, g.config_double("eps"));
  EXPECT_EQ(adam.options().weight_decay, 0.0);
  const train::LossOptions loss_opt{.pad_id = test::seq2seq(config).pad_id, .label_smoothing = g.config_double("label_smoothing")};
  const Source src = Source::of_tokens(g.ints("src"), lengths_of(g, "src_lengths"));
  const train::DecoderIO io = train::decoder_io(g.ints("target"), lengths_of(g, "target_lengths"), test::seq2seq(config));
  EXPECT_EQ(io.tgt_in.data, g.ints("tgt_in").data);
  EXPECT_EQ(io.tgt_out.data, g.ints("tgt_out").data);
  EXPECT_EQ(io.tgt_in.shape, g.ints("tgt_in").shape);

  model->train();
  adam.zero_grad();
  Tensor logits;
  {
    NoGrad no_grad;  // the logits on their own; the step below is the objective's (the fused output layer)
    logits = model->logits(src, io.tgt_in);  // [B, T + 1, V]
  }
  EXPECT_TRUE(test::all_close(logits, g.tensor("logits", DType::f32), kLogitTol, kLogitTol));
  const double want_loss = g.tensor("loss").item();
  EXPECT_NEAR(train::sequence_loss(logits, io.tgt_out, loss_opt).item(), want_loss, kLossTol * std::abs(want_loss));
  data::Batch batch;
  batch.source = src;
  batch.target = g.ints("target");
  batch.target_lengths = lengths_of(g, "target_lengths");
  train::SequenceObjective objective(*model, loss_opt.label_smoothing, nullptr);
  const Tensor loss = objective.loss(batch).loss;
  EXPECT_NEAR(loss.item(), want_loss, kLossTol * std::abs(want_loss));
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
  // The loose elements are the exception: mostly the key biases (8 of each attention's 3C in_proj_bias).
  EXPECT_LE(loose * 20, elements) << loose << " of " << elements << " elements have gradients within noise of 0";
}

TEST(GoldenTransformerStep, PostNormSeparateTablesTiedOutputClipped) { check_step("transformer_step_postnorm"); }
TEST(GoldenTransformerStep, PreNormSharedTablesTiedOutput) { check_step("transformer_step_prenorm"); }
TEST(GoldenTransformerStep, PreNormOutputLayerOfItsOwn) { check_step("transformer_step_prenorm_untied"); }

}  // namespace
}  // namespace attend
