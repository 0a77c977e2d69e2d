// Recurrent cells and layers: parameter names, shapes and initialization, layouts, lengths,
// dropout, and the error messages of bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "attend/nn/rnn.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using test::all_close;
using test::expect_error;

std::vector<std::string> names_of(const nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, p] : m.named_parameters()) out.push_back(name);
  return out;
}

TEST(Rnn, ParameterNamesShapesAndInitFollowPyTorch) {
  Rng rng(31);
  const int64_t I = 3, H = 4;
  nn::LSTM lstm(nn::LSTMOptions{.input_size = I, .hidden_size = H, .num_layers = 2, .bidirectional = true}, rng);
  const std::vector<std::string> expected{
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",         "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
  EXPECT_EQ(names_of(lstm), expected);
  EXPECT_EQ(lstm.parameter("weight_ih_l0").shape(), (Shape{4 * H, I}));
  EXPECT_EQ(lstm.parameter("weight_ih_l1_reverse").shape(), (Shape{4 * H, 2 * H}));
  EXPECT_EQ(lstm.parameter("weight_hh_l1").shape(), (Shape{4 * H, H}));
  EXPECT_EQ(lstm.parameter("bias_hh_l0_reverse").shape(), (Shape{4 * H}));
  EXPECT_TRUE(lstm.weight_ih(1, 1).same(lstm.parameter("weight_ih_l1_reverse")));
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  double lo = 1.0, hi = -1.0;
  for (const auto& [name, p] : lstm.named_parameters()) {
    EXPECT_TRUE(p.requires_grad()) << name;
    for (double v : p.to_vector<double>()) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  EXPECT_GE(lo, -bound);
  EXPECT_LE(hi, bound);
  EXPECT_LT(lo, -0.8 * bound);  // the draws fill the interval
  EXPECT_GT(hi, 0.8 * bound);

  nn::GRU gru(nn::GRUOptions{.input_size = I, .hidden_size = H, .bias = false}, rng);
  EXPECT_EQ(names_of(gru), (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0"}));
  nn::GRUCell cell(nn::GRUCellOptions{.input_size = I, .hidden_size = H}, rng);
  EXPECT_EQ(names_of(cell), (std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}));
  EXPECT_EQ(cell.weight_hh.shape(), (Shape{3 * H, H}));

  Rng a(5), b(5);  // a seed fixes the module
  nn::GRU g1(nn::GRUOptions{.input_size = I, .hidden_size = H}, a), g2(nn::GRUOptions{.input_size = I, .hidden_size = H}, b);
  EXPECT_EQ(g1.weight_hh(0, 0).to_vector<float>(), g2.weight_hh(0, 0).to_vector<float>());
}

TEST(Rnn, CellWithoutStateStartsFromZeros) {
  Rng rng(32);
  nn::GRUCell gru(nn::GRUCellOptions{.input_size = 3, .hidden_size = 2}, rng);
  nn::LSTMCell lstm(nn::LSTMCellOptions{.input_size = 3, .hidden_size = 2}, rng);
  const Tensor x = Tensor::randn({4, 3}, rng), z = Tensor::zeros({4, 2});
  EXPECT_TRUE(all_close(gru.forward(x), gru.forward(x, z), 0.0));
  EXPECT_TRUE(all_close(lstm.forward(x).c, lstm.forward(x, {z, z}).c, 0.0));
}

TEST(Rnn, BatchFirstIsATransposeOfSequenceFirst) {
  Rng a(33), b(33), rng(34);
  const nn::GRUOptions opt{.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true};
  nn::GRU seq_first(opt, a);
  nn::GRUOptions bf_opt = opt;
  bf_opt.batch_first = true;
  nn::GRU batch_first(bf_opt, b);
  const Tensor x = Tensor::randn({5, 2, 3}, rng);  // [T, B, I]
  const std::vector<int64_t> lengths{5, 3};
  const nn::GRUOutput r1 = seq_first.forward(x, lengths);
  const nn::GRUOutput r2 = batch_first.forward(transpose(x, 0, 1), lengths);
  EXPECT_EQ(r1.output.shape(), (Shape{5, 2, 8}));
  EXPECT_EQ(r2.output.shape(), (Shape{2, 5, 8}));
  EXPECT_TRUE(all_close(transpose(r2.output, 0, 1), r1.output, 0.0));
  EXPECT_TRUE(all_close(r2.h_n, r1.h_n, 0.0));
}

TEST(Rnn, PaddedStepsNeitherUpdateNorLeak) {
  Rng rng(35);
  const int64_t B = 3, T = 5, H = 4;
  nn::LSTM lstm(nn::LSTMOptions{.input_size = 2, .hidden_size = H, .batch_first = true, .bidirectional = true}, rng);
  const std::vector<int64_t> lengths{2, 5, 4};
  Tensor x = Tensor::randn({B, T, 2}, rng);
  x.set_requires_grad(true);
  const nn::LSTMOutput r = lstm.forward(x, lengths);
  // Outputs are zero at padded steps; a different padding changes nothing.
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = lengths[static_cast<size_t>(b)]; t < T; ++t)
      for (int64_t j = 0; j < 2 * H; ++j) EXPECT_EQ(r.output.at({b, t, j}), 0.0) << b << " " << t;
  Tensor x2 = x.detach().clone();
  for (int64_t t = 2; t < T; ++t) x2.data<float>()[(0 * T + t) * 2] = 100.0f;
  const nn::LSTMOutput r2 = lstm.forward(x2, lengths);
  EXPECT_TRUE(all_close(r2.output, r.output, 0.0));
  EXPECT_TRUE(all_close(r2.h_n, r.h_n, 0.0));
  EXPECT_TRUE(all_close(r2.c_n, r.c_n, 0.0));
  // h_n: the forward state after each sequence's last valid step, the backward state after t = 0.
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) {
      EXPECT_EQ(r.h_n.at({0, b, j}), r.output.at({b, lengths[static_cast<size_t>(b)] - 1, j}));
      EXPECT_EQ(r.h_n.at({1, b, j}), r.output.at({b, 0, H + j}));
    }
  // No gradient reaches the padded inputs.
  sum(r.output).backward();
  for (int64_t t = 2; t < T; ++t) EXPECT_EQ(x.grad().at({0, t, 0}), 0.0);
  EXPECT_NE(x.grad().at({0, 1, 0}), 0.0);
  // Full lengths are the same as no lengths.
  const nn::LSTMOutput full = lstm.forward(x2, {T, T, T}), none = lstm.forward(x2);
  EXPECT_TRUE(all_close(full.output, none.output, 0.0));
}

TEST(Rnn, DropoutBetweenLayersOnlyInTraining) {
  Rng rng(36);
  const nn::GRUOptions opt{.input_size = 3, .hidden_size = 8, .num_layers = 2, .dropout = 0.5};
  nn::GRU gru(opt, rng);
  const Tensor x = Tensor::randn({4, 2, 3}, rng);
  gru.eval();
  const Tensor eval1 = gru.forward(x).output, eval2 = gru.forward(x).output;
  EXPECT_TRUE(all_close(eval1, eval2, 0.0));
  gru.train();
  gru.dropout_rng().set_state(7, 0);
  const Tensor train1 = gru.forward(x).output;
  gru.dropout_rng().set_state(7, 0);
  const Tensor train2 = gru.forward(x).output;
  EXPECT_TRUE(all_close(train1, train2, 0.0));  // reproducible from the dropout stream
  EXPECT_GT(test::max_abs_diff(train1, eval1), 1e-3);
  // A single layer has no "between layers": dropout changes nothing.
  Rng r1(37);
  nn::GRU single(nn::GRUOptions{.input_size = 3, .hidden_size = 8, .dropout = 0.5}, r1);
  single.train();
  const Tensor s1 = single.forward(x).output;
  single.eval();
  EXPECT_TRUE(all_close(single.forward(x).output, s1, 0.0));
}

// Runs f and checks that it throws attend::Error whose message contains every one of `parts`.

TEST(BadInputRnn, LayerInputWidthMismatch) {
  Rng rng(41);
  nn::GRU gru(nn::GRUOptions{.input_size = 4, .hidden_size = 3, .batch_first = true}, rng);
  expect_error([&] { gru.forward(Tensor::zeros({2, 5, 7})); }, {"[GRU]", "input [2, 5, 7]", "[B, T, I]", "input_size 4"});
  expect_error([&] { gru.forward(Tensor::zeros({2, 4})); }, {"[GRU]", "input [2, 4]"});
  expect_error([&] { gru.forward(Tensor::zeros({2, 5, 4}, DType::f64)); }, {"[GRU]", "f64[2, 5, 4]", "f32"});
  nn::LSTM lstm(nn::LSTMOptions{.input_size = 4, .hidden_size = 3}, rng);
  expect_error([&] { lstm.forward(Tensor::zeros({5, 2, 6})); }, {"[LSTM]", "input [5, 2, 6]", "[T, B, I]"});
}

TEST(BadInputRnn, LayerStateShapeMismatch) {
  Rng rng(42);
  nn::GRU gru(nn::GRUOptions{.input_size = 4, .hidden_size = 3, .batch_first = true, .bidirectional = true}, rng);
  expect_error([&] { gru.forward(Tensor::zeros({2, 5, 4}), {}, Tensor::zeros({1, 2, 3})); },
               {"[GRU]", "h0 [1, 2, 3]", "[L*D, B, H] = [2, 2, 3]", "input [2, 5, 4]"});
  nn::LSTM lstm(nn::LSTMOptions{.input_size = 4, .hidden_size = 3, .num_layers = 2}, rng);
  const Tensor x = Tensor::zeros({5, 2, 4});
  expect_error([&] { lstm.forward(x, {}, {Tensor::zeros({2, 2, 3}), Tensor::zeros({2, 3, 3})}); },
               {"[LSTM]", "c0 [2, 3, 3]", "[2, 2, 3]"});
  expect_error([&] { lstm.forward(x, {}, {Tensor::zeros({2, 2, 3}), Tensor()}); }, {"[LSTM]", "h0 [2, 2, 3]", "c0 undefined"});
}

TEST(BadInputRnn, LengthsOfWrongCountOrOutOfRange) {
  Rng rng(43);
  nn::GRU gru(nn::GRUOptions{.input_size = 4, .hidden_size = 3, .batch_first = true}, rng);
  const Tensor x = Tensor::zeros({2, 5, 4});
  expect_error([&] { gru.forward(x, {5, 4, 3}); }, {"[GRU]", "lengths has 3 entries for batch B = 2", "[2, 5, 4]"});
  expect_error([&] { gru.forward(x, {5, 6}); }, {"[GRU]", "lengths[1] = 6", "[1, T = 5]", "[2, 5, 4]"});
  expect_error([&] { gru.forward(x, {0, 5}); }, {"[GRU]", "lengths[0] = 0", "[1, T = 5]"});
}

TEST(BadInputRnn, CellInputAndStateMismatch) {
  Rng rng(44);
  nn::GRUCell gru(nn::GRUCellOptions{.input_size = 4, .hidden_size = 3}, rng);
  expect_error([&] { gru.forward(Tensor::zeros({2, 5})); }, {"[GRUCell]", "input [2, 5]", "[B, I]", "input_size 4"});
  expect_error([&] { gru.forward(Tensor::zeros({2, 4}), Tensor::zeros({3, 3})); },
               {"[GRUCell]", "state h [3, 3]", "[B, H] = [2, 3]", "input [2, 4]"});
  nn::LSTMCell lstm(nn::LSTMCellOptions{.input_size = 4, .hidden_size = 3}, rng);
  expect_error([&] { lstm.forward(Tensor::zeros({2, 4}), {Tensor::zeros({2, 3}), Tensor::zeros({2, 4})}); },
               {"[LSTMCell]", "state c [2, 4]", "[B, H] = [2, 3]"});
  expect_error([&] { nn::gru_cell(Tensor::zeros({2, 4}), Tensor::zeros({2, 3}), Tensor::zeros({9, 5}),
                                  Tensor::zeros({9, 3}), Tensor(), Tensor()); },
               {"[gru_cell]", "w_ih [9, 5]", "input [2, 4]"});
}

TEST(BadInputRnn, InvalidOptions) {
  Rng rng(45);
  expect_error([&] { nn::GRU(nn::GRUOptions{.input_size = 4, .hidden_size = 0}, rng); }, {"[GRU]", "hidden_size 0"});
  expect_error([&] { nn::LSTM(nn::LSTMOptions{.input_size = 4, .hidden_size = 2, .num_layers = 0}, rng); },
               {"[LSTM]", "num_layers 0"});
  expect_error([&] { nn::GRU(nn::GRUOptions{.input_size = 4, .hidden_size = 2, .dropout = 1.0}, rng); },
               {"[GRU]", "dropout 1"});
  expect_error([&] { nn::LSTMCell(nn::LSTMCellOptions{.input_size = 0, .hidden_size = 2}, rng); },
               {"[LSTMCell]", "input_size 0"});
}

}  // namespace
}  // namespace attend
