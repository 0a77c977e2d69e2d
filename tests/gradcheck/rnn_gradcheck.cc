// Finite-difference gradient checks in f64 (PyTorch's gradcheck defaults) for the recurrent cells
// and a small bidirectional layer with variable lengths, w.r.t. the input, the initial state and
// every parameter.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <vector>

#include "attend/nn/rnn.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using test::gradcheck;
using test::randn64;

Tensor flat(const Tensor& t) { return reshape(t, {-1}); }

TEST(GradCheckRnn, GRUCell) {
  Rng rng(21);
  const int64_t B = 2, I = 3, H = 4;
  const auto f = [](const std::vector<Tensor>& v) { return nn::gru_cell(v[0], v[1], v[2], v[3], v[4], v[5]); };
  EXPECT_TRUE(gradcheck(f, {randn64({B, I}, rng), randn64({B, H}, rng), randn64({3 * H, I}, rng),
                            randn64({3 * H, H}, rng), randn64({3 * H}, rng), randn64({3 * H}, rng)}));
}

TEST(GradCheckRnn, LSTMCell) {
  Rng rng(22);
  const int64_t B = 2, I = 3, H = 4;
  const auto f = [](const std::vector<Tensor>& v) {
    const nn::LSTMState s = nn::lstm_cell(v[0], {v[1], v[2]}, v[3], v[4], v[5], v[6]);
    return concat({flat(s.h), flat(s.c)}, 0);
  };
  EXPECT_TRUE(gradcheck(f, {randn64({B, I}, rng), randn64({B, H}, rng), randn64({B, H}, rng),
                            randn64({4 * H, I}, rng), randn64({4 * H, H}, rng), randn64({4 * H}, rng),
                            randn64({4 * H}, rng)}));
}

// Inputs: x, the initial state(s), then every parameter in named_parameters() order; the checked
// output is [output, h_n (, c_n)] flattened.
template <typename Layer>
void check_layer(Layer& m, bool lstm, const std::vector<int64_t>& lengths, Rng& rng) {
  m.to(DType::f64);
  const nn::RNNOptions& o = m.options();
  const int64_t B = static_cast<int64_t>(lengths.size()), T = 3, LD = o.num_layers * m.num_directions();
  std::vector<std::string> names;
  std::vector<Tensor> inputs{randn64({B, T, o.input_size}, rng), randn64({LD, B, o.hidden_size}, rng)};
  if (lstm) inputs.push_back(randn64({LD, B, o.hidden_size}, rng));
  const size_t first_param = inputs.size();
  for (const auto& [name, p] : m.named_parameters()) {
    names.push_back(name);
    inputs.push_back(p.detach().clone());
  }
  const auto f = [&](const std::vector<Tensor>& v) {
    for (size_t k = 0; k < names.size(); ++k) m.parameter(names[k]) = v[first_param + k];
    if constexpr (std::is_same_v<Layer, nn::LSTM>) {
      const nn::LSTMOutput r = m.forward(v[0], lengths, {v[1], v[2]});
      return concat({flat(r.output), flat(r.h_n), flat(r.c_n)}, 0);
    } else {
      const nn::GRUOutput r = m.forward(v[0], lengths, v[1]);
      return concat({flat(r.output), flat(r.h_n)}, 0);
    }
  };
  EXPECT_TRUE(gradcheck(f, inputs));
}

TEST(GradCheckRnn, BidirectionalGRUWithLengths) {
  Rng rng(23);
  nn::GRU gru(nn::GRUOptions{.input_size = 2, .hidden_size = 2, .batch_first = true, .bidirectional = true}, rng);
  check_layer(gru, false, {3, 1, 2}, rng);
}

TEST(GradCheckRnn, BidirectionalLSTMWithLengths) {
  Rng rng(24);
  nn::LSTM lstm(nn::LSTMOptions{.input_size = 2, .hidden_size = 2, .batch_first = true, .bidirectional = true}, rng);
  check_layer(lstm, true, {2, 3}, rng);
}

TEST(GradCheckRnn, TwoLayerGRUWithLengths) {
  Rng rng(25);
  nn::GRU gru(nn::GRUOptions{.input_size = 2, .hidden_size = 2, .num_layers = 2, .batch_first = true}, rng);
  check_layer(gru, false, {1, 3}, rng);
}

}  // namespace
}  // namespace attend
