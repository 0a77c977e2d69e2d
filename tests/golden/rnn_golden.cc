// Recurrent cells and layers against PyTorch 1.13 (scripts/golden/make_rnn_golden.py): outputs,
// final states and the gradients of loss = sum(out * proj) + sum(h_n * proj_h) (+ c terms) w.r.t.
// the input, the initial state and every parameter, in f64 (tight) and f32 (outputs only).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attend/nn/rnn.h"
#include "attend/ops/ops.h"
#include "support/check.h"
#include "support/golden.h"

namespace attend {
namespace {

using nn::LSTMState;
using test::all_close;
using test::Golden;

constexpr double kTol64 = 1e-10;  // f64 against PyTorch's f64
constexpr double kTol32 = 2e-5;   // f32 against PyTorch's f64

// Loads every "param.<name>" of the file into `m`, after checking that the module has exactly
// PyTorch's parameter names, in PyTorch's order.
void load_params(nn::Module& m, const Golden& g) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  ASSERT_EQ(names, g.config_strings("param_names"));
  for (const auto& name : names) m.load_parameter(name, g.tensor("param." + name));
}

// Every parameter's gradient against "grad.<name>".
void expect_param_grads(const nn::Module& m, const Golden& g) {
  for (const auto& [name, p] : m.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(all_close(p.grad(), g.tensor("grad." + name), kTol64, kTol64)) << name;
  }
}

Tensor leaf(const Golden& g, const std::string& key, DType dt = DType::f64) {
  Tensor t = g.tensor(key, dt);
  t.set_requires_grad(true);
  return t;
}

std::vector<int64_t> lengths_of(const Golden& g) { return g.has_ints("lengths") ? g.ints("lengths").data : std::vector<int64_t>{}; }

TEST(GoldenRnn, GRUCellOutputAndGradients) {
  const Golden g = Golden::load("rnn_gru_cell");
  Rng rng(1);
  nn::GRUCell cell(nn::GRUCellOptions{.input_size = g.config_int("input_size"),
                                      .hidden_size = g.config_int("hidden_size"),
                                      .dtype = DType::f64},
                   rng);
  load_params(cell, g);
  const Tensor x = leaf(g, "x"), h = leaf(g, "h");
  const Tensor h1 = cell.forward(x, h);  // [B, H]
  EXPECT_TRUE(all_close(h1, g.tensor("out.h"), kTol64, kTol64));
  sum(h1 * g.tensor("proj_h")).backward();
  EXPECT_TRUE(all_close(x.grad(), g.tensor("grad.x"), kTol64, kTol64));
  EXPECT_TRUE(all_close(h.grad(), g.tensor("grad.h"), kTol64, kTol64));
  expect_param_grads(cell, g);

  cell.to(DType::f32);
  EXPECT_TRUE(all_close(cell.forward(g.tensor("x", DType::f32), g.tensor("h", DType::f32)), g.tensor("out.h"),
                        kTol32, kTol32));
}

TEST(GoldenRnn, LSTMCellOutputAndGradients) {
  const Golden g = Golden::load("rnn_lstm_cell");
  Rng rng(2);
  nn::LSTMCell cell(nn::LSTMCellOptions{.input_size = g.config_int("input_size"),
                                        .hidden_size = g.config_int("hidden_size"),
                                        .dtype = DType::f64},
                    rng);
  load_params(cell, g);
  const Tensor x = leaf(g, "x"), h = leaf(g, "h"), c = leaf(g, "c");
  const LSTMState s = cell.forward(x, {h, c});  // [B, H] each
  EXPECT_TRUE(all_close(s.h, g.tensor("out.h"), kTol64, kTol64));
  EXPECT_TRUE(all_close(s.c, g.tensor("out.c"), kTol64, kTol64));
  (sum(s.h * g.tensor("proj_h")) + sum(s.c * g.tensor("proj_c"))).backward();
  EXPECT_TRUE(all_close(x.grad(), g.tensor("grad.x"), kTol64, kTol64));
  EXPECT_TRUE(all_close(h.grad(), g.tensor("grad.h"), kTol64, kTol64));
  EXPECT_TRUE(all_close(c.grad(), g.tensor("grad.c"), kTol64, kTol64));
  expect_param_grads(cell, g);

  cell.to(DType::f32);
  const LSTMState s32 = cell.forward(g.tensor("x", DType::f32), {g.tensor("h", DType::f32), g.tensor("c", DType::f32)});
  EXPECT_TRUE(all_close(s32.h, g.tensor("out.h"), kTol32, kTol32));
  EXPECT_TRUE(all_close(s32.c, g.tensor("out.c"), kTol32, kTol32));
}

nn::RNNOptions layer_options(const Golden& g, DType dt) {
  return nn::RNNOptions{.input_size = g.config_int("input_size"),
                        .hidden_size = g.config_int("hidden_size"),
                        .num_layers = g.config_int("num_layers"),
                        .bias = g.config_bool("bias"),
                        .batch_first = g.config_bool("batch_first"),
                        .bidirectional = g.config_bool("bidirectional"),
                        .dtype = dt};
}

void check_gru_layer(const std::string& file) {
  SCOPED_TRACE(file);
  const Golden g = Golden::load(file);
  Rng rng(3);
  nn::GRU gru(layer_options(g, DType::f64), rng);
  load_params(gru, g);
  const bool has_h0 = g.config_bool("initial_state");
  const Tensor x = leaf(g, "x");
  const Tensor h0 = has_h0 ? leaf(g, "h0") : Tensor();
  const nn::GRUOutput r = gru.forward(x, lengths_of(g), h0);
  EXPECT_TRUE(all_close(r.output, g.tensor("out"), kTol64, kTol64));
  EXPECT_TRUE(all_close(r.h_n, g.tensor("h_n"), kTol64, kTol64));
  (sum(r.output * g.tensor("proj")) + sum(r.h_n * g.tensor("proj_h"))).backward();
  EXPECT_TRUE(all_close(x.grad(), g.tensor("grad.x"), kTol64, kTol64));
  if (has_h0) {
    EXPECT_TRUE(all_close(h0.grad(), g.tensor("grad.h0"), kTol64, kTol64));
  }
  expect_param_grads(gru, g);

  gru.to(DType::f32);
  const nn::GRUOutput r32 = gru.forward(g.tensor("x", DType::f32), lengths_of(g),
                                        has_h0 ? g.tensor("h0", DType::f32) : Tensor());
  EXPECT_TRUE(all_close(r32.output, g.tensor("out"), kTol32, kTol32));
  EXPECT_TRUE(all_close(r32.h_n, g.tensor("h_n"), kTol32, kTol32));
}

void check_lstm_layer(const std::string& file) {
  SCOPED_TRACE(file);
  const Golden g = Golden::load(file);
  Rng rng(4);
  nn::LSTM lstm(layer_options(g, DType::f64), rng);
  load_params(lstm, g);
  const bool has_state = g.config_bool("initial_state");
  const Tensor x = leaf(g, "x");
  const LSTMState s0 = has_state ? LSTMState{leaf(g, "h0"), leaf(g, "c0")} : LSTMState{};
  const nn::LSTMOutput r = lstm.forward(x, lengths_of(g), s0);
  EXPECT_TRUE(all_close(r.output, g.tensor("out"), kTol64, kTol64));
  EXPECT_TRUE(all_close(r.h_n, g.tensor("h_n"), kTol64, kTol64));
  EXPECT_TRUE(all_close(r.c_n, g.tensor("c_n"), kTol64, kTol64));
  (sum(r.output * g.tensor("proj")) + sum(r.h_n * g.tensor("proj_h")) + sum(r.c_n * g.tensor("proj_c")))
      .backward();
  EXPECT_TRUE(all_close(x.grad(), g.tensor("grad.x"), kTol64, kTol64));
  if (has_state) {
    EXPECT_TRUE(all_close(s0.h.grad(), g.tensor("grad.h0"), kTol64, kTol64));
    EXPECT_TRUE(all_close(s0.c.grad(), g.tensor("grad.c0"), kTol64, kTol64));
  }
  expect_param_grads(lstm, g);

  lstm.to(DType::f32);
  const LSTMState s32 = has_state ? LSTMState{g.tensor("h0", DType::f32), g.tensor("c0", DType::f32)} : LSTMState{};
  const nn::LSTMOutput r32 = lstm.forward(g.tensor("x", DType::f32), lengths_of(g), s32);
  EXPECT_TRUE(all_close(r32.output, g.tensor("out"), kTol32, kTol32));
  EXPECT_TRUE(all_close(r32.h_n, g.tensor("h_n"), kTol32, kTol32));
  EXPECT_TRUE(all_close(r32.c_n, g.tensor("c_n"), kTol32, kTol32));
}

TEST(GoldenRnn, GRUTwoLayersBidirectionalBatchFirstPacked) { check_gru_layer("rnn_gru_packed"); }
TEST(GoldenRnn, LSTMTwoLayersBidirectionalBatchFirstPacked) { check_lstm_layer("rnn_lstm_packed"); }
TEST(GoldenRnn, GRUSequenceFirstZeroState) { check_gru_layer("rnn_gru_seq_first"); }
TEST(GoldenRnn, LSTMSequenceFirstBidirectionalNoBias) { check_lstm_layer("rnn_lstm_seq_first"); }

}  // namespace
}  // namespace attend
