// Recurrent cells and layers against a float64 naive loop (oracle 1 of DESIGN.md section 6). The
// reference runs each sequence over its own valid steps only (no masks), one scalar at a time,
// straight from the formulas of attend/nn/rnn.h.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attend/nn/rnn.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

using test::all_close;
using Vec = std::vector<double>;

double sigm(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// One direction of one layer: w_ih [G*H, I], w_hh [G*H, H], biases [G*H] (empty: none).
struct RefParams {
  Vec w_ih, w_hh, b_ih, b_hh;
  int64_t in = 0, H = 0;
};

RefParams ref_params(nn::Module& m, const std::string& suffix, int64_t in, int64_t H) {
  RefParams p{.w_ih = m.parameter("weight_ih" + suffix).to_vector<double>(),
              .w_hh = m.parameter("weight_hh" + suffix).to_vector<double>(),
              .b_ih = {},
              .b_hh = {},
              .in = in,
              .H = H};
  for (const auto& [name, t] : m.named_parameters()) {
    if (name == "bias_ih" + suffix) p.b_ih = t.to_vector<double>();
    if (name == "bias_hh" + suffix) p.b_hh = t.to_vector<double>();
  }
  return p;
}

// a[j] = sum_k W[j, k] v[k] + b[j] for j < rows.
Vec affine(const Vec& W, const Vec& v, const Vec& b, int64_t rows, int64_t cols) {
  Vec a(static_cast<size_t>(rows));
  for (int64_t j = 0; j < rows; ++j) {
    double s = b.empty() ? 0.0 : b[static_cast<size_t>(j)];
    for (int64_t k = 0; k < cols; ++k) s += W[static_cast<size_t>(j * cols + k)] * v[static_cast<size_t>(k)];
    a[static_cast<size_t>(j)] = s;
  }
  return a;
}

// One sample: x [I], h [H] -> h' [H].
Vec ref_gru(const RefParams& p, const Vec& x, const Vec& h) {
  const int64_t H = p.H;
  const Vec gi = affine(p.w_ih, x, p.b_ih, 3 * H, p.in), gh = affine(p.w_hh, h, p.b_hh, 3 * H, H);
  Vec out(static_cast<size_t>(H));
  for (int64_t j = 0; j < H; ++j) {
    const auto u = static_cast<size_t>(j), hh = static_cast<size_t>(H);
    const double r = sigm(gi[u] + gh[u]);
    const double z = sigm(gi[hh + u] + gh[hh + u]);
    const double n = std::tanh(gi[2 * hh + u] + r * gh[2 * hh + u]);
    out[u] = (1.0 - z) * n + z * h[u];
  }
  return out;
}

// One sample: x [I], (h, c) [H] each -> (h', c').
std::pair<Vec, Vec> ref_lstm(const RefParams& p, const Vec& x, const Vec& h, const Vec& c) {
  const int64_t H = p.H;
  const Vec gi = affine(p.w_ih, x, p.b_ih, 4 * H, p.in), gh = affine(p.w_hh, h, p.b_hh, 4 * H, H);
  Vec h1(static_cast<size_t>(H)), c1(static_cast<size_t>(H));
  for (int64_t j = 0; j < H; ++j) {
    const auto u = static_cast<size_t>(j), hh = static_cast<size_t>(H);
    const double i = sigm(gi[u] + gh[u]), f = sigm(gi[hh + u] + gh[hh + u]);
    const double g = std::tanh(gi[2 * hh + u] + gh[2 * hh + u]), o = sigm(gi[3 * hh + u] + gh[3 * hh + u]);
    c1[u] = f * c[u] + i * g;
    h1[u] = o * std::tanh(c1[u]);
  }
  return {h1, c1};
}

Vec row_of(const Vec& flat, int64_t r, int64_t width) {
  return Vec(flat.begin() + r * width, flat.begin() + (r + 1) * width);
}

TEST(ReferenceRnn, GRUCellMatchesFloat64Loop) {
  Rng rng(11);
  const int64_t B = 3, I = 5, H = 4;
  nn::GRUCell cell(nn::GRUCellOptions{.input_size = I, .hidden_size = H}, rng);
  const Tensor x = Tensor::randn({B, I}, rng), h = Tensor::randn({B, H}, rng);
  const Tensor out = cell.forward(x, h);  // [B, H]
  const RefParams p = ref_params(cell, "", I, H);
  Vec ref;
  for (int64_t b = 0; b < B; ++b) {
    const Vec y = ref_gru(p, row_of(x.to_vector<double>(), b, I), row_of(h.to_vector<double>(), b, H));
    ref.insert(ref.end(), y.begin(), y.end());
  }
  EXPECT_TRUE(all_close(out, Tensor::from_vector(ref, {B, H}), 1e-6, 1e-5));
}

TEST(ReferenceRnn, LSTMCellMatchesFloat64Loop) {
  Rng rng(12);
  const int64_t B = 3, I = 5, H = 4;
  nn::LSTMCell cell(nn::LSTMCellOptions{.input_size = I, .hidden_size = H}, rng);
  const Tensor x = Tensor::randn({B, I}, rng), h = Tensor::randn({B, H}, rng), c = Tensor::randn({B, H}, rng);
  const nn::LSTMState s = cell.forward(x, {h, c});
  const RefParams p = ref_params(cell, "", I, H);
  Vec ref_h, ref_c;
  for (int64_t b = 0; b < B; ++b) {
    const auto [h1, c1] = ref_lstm(p, row_of(x.to_vector<double>(), b, I), row_of(h.to_vector<double>(), b, H),
                                   row_of(c.to_vector<double>(), b, H));
    ref_h.insert(ref_h.end(), h1.begin(), h1.end());
    ref_c.insert(ref_c.end(), c1.begin(), c1.end());
  }
  EXPECT_TRUE(all_close(s.h, Tensor::from_vector(ref_h, {B, H}), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(s.c, Tensor::from_vector(ref_c, {B, H}), 1e-6, 1e-5));
}

struct RefLayerOut {
  Vec out, h_n, c_n;  // [B, T, D*H], [L*D, B, H], [L*D, B, H]
};

// The whole stack, batch_first, sequence by sequence over its valid steps only.
RefLayerOut ref_layers(nn::RecurrentLayers& m, bool lstm, const Vec& x, int64_t B, int64_t T,
                       const std::vector<int64_t>& lengths) {
  const nn::RNNOptions& o = m.options();
  const int64_t L = o.num_layers, D = m.num_directions(), H = o.hidden_size;
  Vec in = x;  // [B, T, width]
  int64_t width = o.input_size;
  RefLayerOut r{.out = {}, .h_n = Vec(static_cast<size_t>(L * D * B * H)), .c_n = Vec(static_cast<size_t>(L * D * B * H))};
  for (int64_t k = 0; k < L; ++k) {
    Vec out(static_cast<size_t>(B * T * D * H), 0.0);
    for (int64_t d = 0; d < D; ++d) {
      const RefParams p = ref_params(m, "_l" + std::to_string(k) + (d == 1 ? "_reverse" : ""), width, H);
      for (int64_t b = 0; b < B; ++b) {
        Vec h(static_cast<size_t>(H), 0.0), c(static_cast<size_t>(H), 0.0);
        const int64_t len = lengths[static_cast<size_t>(b)];
        for (int64_t s = 0; s < len; ++s) {
          const int64_t t = d == 0 ? s : len - 1 - s;
          const Vec xt = row_of(in, b * T + t, width);
          if (lstm) {
            std::tie(h, c) = ref_lstm(p, xt, h, c);
          } else {
            h = ref_gru(p, xt, h);
          }
          for (int64_t j = 0; j < H; ++j)
            out[static_cast<size_t>((b * T + t) * D * H + d * H + j)] = h[static_cast<size_t>(j)];
        }
        for (int64_t j = 0; j < H; ++j) {
          r.h_n[static_cast<size_t>(((k * D + d) * B + b) * H + j)] = h[static_cast<size_t>(j)];
          r.c_n[static_cast<size_t>(((k * D + d) * B + b) * H + j)] = c[static_cast<size_t>(j)];
        }
      }
    }
    in = out;
    width = D * H;
  }
  r.out = in;
  return r;
}

TEST(ReferenceRnn, BidirectionalStackedGRUWithLengthsMatchesFloat64Loop) {
  Rng rng(13);
  const int64_t B = 4, T = 6, I = 3, H = 5;
  nn::GRU gru(nn::GRUOptions{.input_size = I, .hidden_size = H, .num_layers = 2, .batch_first = true,
                             .bidirectional = true},
              rng);
  const std::vector<int64_t> lengths{3, 6, 1, 5};
  const Tensor x = Tensor::randn({B, T, I}, rng);
  const nn::GRUOutput r = gru.forward(x, lengths);
  const RefLayerOut ref = ref_layers(gru, false, x.to_vector<double>(), B, T, lengths);
  EXPECT_TRUE(all_close(r.output, Tensor::from_vector(ref.out, {B, T, 2 * H}), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(r.h_n, Tensor::from_vector(ref.h_n, {4, B, H}), 1e-6, 1e-5));
}

TEST(ReferenceRnn, BidirectionalStackedLSTMWithLengthsMatchesFloat64Loop) {
  Rng rng(14);
  const int64_t B = 4, T = 6, I = 3, H = 5;
  nn::LSTM lstm(nn::LSTMOptions{.input_size = I, .hidden_size = H, .num_layers = 2, .batch_first = true,
                                .bidirectional = true},
                rng);
  const std::vector<int64_t> lengths{6, 2, 4, 1};
  const Tensor x = Tensor::randn({B, T, I}, rng);
  const nn::LSTMOutput r = lstm.forward(x, lengths);
  const RefLayerOut ref = ref_layers(lstm, true, x.to_vector<double>(), B, T, lengths);
  EXPECT_TRUE(all_close(r.output, Tensor::from_vector(ref.out, {B, T, 2 * H}), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(r.h_n, Tensor::from_vector(ref.h_n, {4, B, H}), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(r.c_n, Tensor::from_vector(ref.c_n, {4, B, H}), 1e-6, 1e-5));
}

}  // namespace
}  // namespace attend
