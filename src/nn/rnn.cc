#include "attend/nn/rnn.h"

#include <cmath>

#include "attend/ops/ops.h"

namespace attend::nn {

namespace {

// Row i of x [N, ...] as a view [...].
Tensor row(const Tensor& x, int64_t i) { return squeeze(slice(x, 0, i, i + 1), 0); }

// x [T, ...] -> T views [...], recorded as one autograd node whose backward writes each row's
// gradient into one buffer: O(numel) per backward, where T separate slices would each allocate
// and accumulate a zero-padded gradient of x's full size (O(T * numel), quadratic in T).
std::vector<Tensor> unbind0(const Tensor& x) {
  const Tensor c = x.contiguous();  // [T, ...]
  Shape row_shape = c.shape(), row_strides = c.strides();
  row_shape.erase(0);
  row_strides.erase(0);
  std::vector<Tensor> rows;
  for (int64_t t = 0; t < c.size(0); ++t)
    rows.push_back(c.as_strided(row_shape, row_strides, c.offset() + t * c.strides()[0]));  // [...]
  autograd::record("unbind", {x}, rows, [shape = x.shape()](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(shape, g.front().dtype());  // [T, ...]
    for (size_t t = 0; t < g.size(); ++t) {
      Tensor dst = dx.as_strided(g[t].shape(), contiguous_strides(g[t].shape()),
                                 static_cast<int64_t>(t) * dx.strides()[0]);  // row t of dx
      copy_into(dst, g[t]);
    }
    return {dx};
  });
  return rows;
}

void check_cell_args(const char* op, int64_t gates, const Tensor& x, const Tensor& h, const Tensor& w_ih,
                     const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  ATTEND_CHECK(x.defined() && h.defined() && w_ih.defined() && w_hh.defined(), op,
               "x, h, w_ih and w_hh must be defined");
  ATTEND_CHECK(w_hh.dim() == 2 && w_hh.size(0) % gates == 0 && w_hh.size(1) * gates == w_hh.size(0), op,
               "w_hh ", w_hh.shape().str(), " must be [", gates, "H, H]");
  const int64_t H = w_hh.size(1);
  ATTEND_CHECK(x.dim() == 2, op, "input ", x.shape().str(), " must be [B, I]");
  ATTEND_CHECK(w_ih.dim() == 2 && w_ih.size(0) == gates * H && w_ih.size(1) == x.size(1), op, "w_ih ",
               w_ih.shape().str(), " must be [", gates, "H, I] = [", gates * H, ", ", x.size(1), "] for input ",
               x.shape().str(), " and w_hh ", w_hh.shape().str());
  ATTEND_CHECK(h.shape() == Shape({x.size(0), H}), op, "state ", h.shape().str(), " must be [B, H] = [", x.size(0),
               ", ", H, "] for input ", x.shape().str());
  for (const Tensor* b : {&b_ih, &b_hh})
    ATTEND_CHECK(!b->defined() || b->shape() == Shape({gates * H}), op, "bias ", b->shape().str(), " must be [",
                 gates * H, "]");
  const DType dt = w_ih.dtype();
  ATTEND_CHECK(x.dtype() == dt && h.dtype() == dt && w_hh.dtype() == dt, op, "input ", x.str(), ", state ",
               h.str(), ", w_ih ", w_ih.str(), " and w_hh ", w_hh.str(), " must share a dtype");
}

// One GRU step from the input projection gi = x W_ih^T + b_ih [B, 3H] and the state h [B, H].
Tensor gru_step(const Tensor& gi, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh) {
  const int64_t H = h.size(1);
  const Tensor gh = linear(h, w_hh, b_hh);                                       // [B, 3H]
  const Tensor rz = sigmoid(slice(gi, 1, 0, 2 * H) + slice(gh, 1, 0, 2 * H));  // [B, 2H]
  const Tensor r = slice(rz, 1, 0, H);                                           // [B, H]
  const Tensor z = slice(rz, 1, H, 2 * H);                                       // [B, H]
  const Tensor n = tanh(slice(gi, 1, 2 * H, 3 * H) + r * slice(gh, 1, 2 * H, 3 * H));  // [B, H]
  return n + z * (h - n);  // (1 - z) * n + z * h, [B, H]
}

// One LSTM step from the input projection gi = x W_ih^T + b_ih [B, 4H] and the state (h, c).
LSTMState lstm_step(const Tensor& gi, const LSTMState& s, const Tensor& w_hh, const Tensor& b_hh) {
  const int64_t H = s.h.size(1);
  const Tensor gates = gi + linear(s.h, w_hh, b_hh);        // [B, 4H]
  const Tensor if_ = sigmoid(slice(gates, 1, 0, 2 * H));    // [B, 2H]
  const Tensor g = tanh(slice(gates, 1, 2 * H, 3 * H));     // [B, H]
  const Tensor o = sigmoid(slice(gates, 1, 3 * H, 4 * H));  // [B, H]
  const Tensor c = slice(if_, 1, H, 2 * H) * s.c + slice(if_, 1, 0, H) * g;  // f * c + i * g, [B, H]
  return {o * tanh(c), c};
}

}  // namespace

Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                const Tensor& b_hh) {
  check_cell_args("gru_cell", 3, x, h, w_ih, w_hh, b_ih, b_hh);
  return gru_step(linear(x, w_ih, b_ih), h, w_hh, b_hh);
}

LSTMState lstm_cell(const Tensor& x, const LSTMState& state, const Tensor& w_ih, const Tensor& w_hh,
                    const Tensor& b_ih, const Tensor& b_hh) {
  check_cell_args("lstm_cell", 4, x, state.h, w_ih, w_hh, b_ih, b_hh);
  ATTEND_CHECK(state.c.defined() && state.c.shape() == state.h.shape() && state.c.dtype() == state.h.dtype(),
               "lstm_cell", "cell state ", state.c.defined() ? state.c.str() : "undefined",
               " must match the hidden state ", state.h.str());
  return lstm_step(linear(x, w_ih, b_ih), state, w_hh, b_hh);
}

// ---------------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------------

namespace {

void init_cell(const char* op, int64_t gates, const RNNCellOptions& opt, Rng& rng, Tensor& w_ih, Tensor& w_hh,
               Tensor& b_ih, Tensor& b_hh) {
  ATTEND_CHECK(opt.input_size > 0 && opt.hidden_size > 0, op, "input_size ", opt.input_size, " and hidden_size ",
               opt.hidden_size, " must be positive");
  // PyTorch's RNNCellBase.reset_parameters: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(opt.hidden_size));
  const int64_t GH = gates * opt.hidden_size;
  w_ih = Tensor::uniform(Shape{GH, opt.input_size}, rng, -bound, bound, opt.dtype);   // [G*H, I]
  w_hh = Tensor::uniform(Shape{GH, opt.hidden_size}, rng, -bound, bound, opt.dtype);  // [G*H, H]
  if (opt.bias) {
    b_ih = Tensor::uniform(Shape{GH}, rng, -bound, bound, opt.dtype);  // [G*H]
    b_hh = Tensor::uniform(Shape{GH}, rng, -bound, bound, opt.dtype);  // [G*H]
  }
}

// Validates a cell module's input and state before the functional cell runs.
// dt: the parameters' dtype (the options' until Module::to converts them).
void check_cell_input(const char* op, const RNNCellOptions& opt, DType dt, const Tensor& x, const Tensor& h,
                      const char* state_name) {
  ATTEND_CHECK(x.defined() && x.dim() == 2 && x.size(1) == opt.input_size, op, "input ",
               x.defined() ? x.shape().str() : "undefined", " must be [B, I] with I = input_size ", opt.input_size);
  ATTEND_CHECK(x.dtype() == dt, op, "input ", x.str(), " must have the parameters' dtype ", dtype_name(dt));
  if (h.defined()) {
    ATTEND_CHECK(h.shape() == Shape({x.size(0), opt.hidden_size}), op, state_name, " ", h.shape().str(),
                 " must be [B, H] = ", Shape({x.size(0), opt.hidden_size}).str(), " for input ", x.shape().str());
    ATTEND_CHECK(h.dtype() == dt, op, state_name, " ", h.str(), " must have the parameters' dtype ",
                 dtype_name(dt));
  }
}

}  // namespace

GRUCell::GRUCell(const GRUCellOptions& opt, Rng& rng) : opt_(opt) {
  init_cell("GRUCell", 3, opt_, rng, weight_ih, weight_hh, bias_ih, bias_hh);
  register_parameter("weight_ih", weight_ih);
  register_parameter("weight_hh", weight_hh);
  register_parameter("bias_ih", bias_ih);
  register_parameter("bias_hh", bias_hh);
}

Tensor GRUCell::forward(const Tensor& x, const Tensor& h) const {
  const DType dt = weight_ih.dtype();
  check_cell_input("GRUCell", opt_, dt, x, h, "state h");
  const Tensor h0 = h.defined() ? h : Tensor::zeros(Shape{x.size(0), opt_.hidden_size}, dt);  // [B, H]
  return gru_step(linear(x, weight_ih, bias_ih), h0, weight_hh, bias_hh);                              // [B, H]
}

LSTMCell::LSTMCell(const LSTMCellOptions& opt, Rng& rng) : opt_(opt) {
  init_cell("LSTMCell", 4, opt_, rng, weight_ih, weight_hh, bias_ih, bias_hh);
  register_parameter("weight_ih", weight_ih);
  register_parameter("weight_hh", weight_hh);
  register_parameter("bias_ih", bias_ih);
  register_parameter("bias_hh", bias_hh);
}

LSTMState LSTMCell::forward(const Tensor& x, const LSTMState& state) const {
  const DType dt = weight_ih.dtype();
  check_cell_input("LSTMCell", opt_, dt, x, state.h, "state h");
  check_cell_input("LSTMCell", opt_, dt, x, state.c, "state c");
  ATTEND_CHECK(state.h.defined() == state.c.defined(), "LSTMCell", "state h and c must both be given or both be "
               "undefined (h ", state.h.defined() ? state.h.shape().str() : "undefined", ", c ",
               state.c.defined() ? state.c.shape().str() : "undefined", ")");
  LSTMState s = state;
  if (!s.h.defined()) {
    s.h = Tensor::zeros(Shape{x.size(0), opt_.hidden_size}, dt);  // [B, H]
    s.c = Tensor::zeros(Shape{x.size(0), opt_.hidden_size}, dt);  // [B, H]
  }
  return lstm_step(linear(x, weight_ih, bias_ih), s, weight_hh, bias_hh);
}

// ---------------------------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------------------------

RecurrentLayers::RecurrentLayers(const char* op, int64_t gates, const RNNOptions& opt, Rng& rng)
    : op_(op), gates_(gates), opt_(opt) {
  ATTEND_CHECK(opt.input_size > 0 && opt.hidden_size > 0, op, "input_size ", opt.input_size, " and hidden_size ",
               opt.hidden_size, " must be positive");
  ATTEND_CHECK(opt.num_layers >= 1, op, "num_layers ", opt.num_layers, " must be at least 1");
  ATTEND_CHECK(opt.dropout >= 0.0 && opt.dropout < 1.0, op, "dropout ", opt.dropout, " must be in [0, 1)");
  const int64_t L = opt.num_layers, D = num_directions(), H = opt.hidden_size, GH = gates * H;
  // PyTorch's RNNBase.reset_parameters: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), in order.
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  params_.resize(static_cast<size_t>(4 * L * D));
  for (int64_t k = 0; k < L; ++k) {
    const int64_t in = k == 0 ? opt.input_size : D * H;
    for (int d = 0; d < D; ++d) {
      const std::string suffix = "_l" + std::to_string(k) + (d == 1 ? "_reverse" : "");
      slot(k, d, 0) = Tensor::uniform(Shape{GH, in}, rng, -bound, bound, opt.dtype);  // [G*H, I or D*H]
      slot(k, d, 1) = Tensor::uniform(Shape{GH, H}, rng, -bound, bound, opt.dtype);   // [G*H, H]
      if (opt.bias) {
        slot(k, d, 2) = Tensor::uniform(Shape{GH}, rng, -bound, bound, opt.dtype);  // [G*H]
        slot(k, d, 3) = Tensor::uniform(Shape{GH}, rng, -bound, bound, opt.dtype);  // [G*H]
      }
      register_parameter("weight_ih" + suffix, slot(k, d, 0));
      register_parameter("weight_hh" + suffix, slot(k, d, 1));
      register_parameter("bias_ih" + suffix, slot(k, d, 2));
      register_parameter("bias_hh" + suffix, slot(k, d, 3));
    }
  }
  dropout_rng_ = Rng(rng.next_u64());
}

Tensor& RecurrentLayers::slot(int64_t k, int d, int which) {
  ATTEND_CHECK(k >= 0 && k < opt_.num_layers && d >= 0 && d < num_directions(), op_, "no layer ", k,
               " direction ", d, " (num_layers ", opt_.num_layers, ", directions ", num_directions(), ")");
  return params_[static_cast<size_t>((k * num_directions() + d) * 4 + which)];
}

void RecurrentLayers::check_inputs(const Tensor& input, const std::vector<int64_t>& lengths, const Tensor& h0,
                                   const Tensor& c0) const {
  const char* layout = opt_.batch_first ? "[B, T, I]" : "[T, B, I]";
  ATTEND_CHECK(input.defined() && input.dim() == 3 && input.size(2) == opt_.input_size, op_, "input ",
               input.defined() ? input.shape().str() : "undefined", " must be ", layout,
               " with I = input_size ", opt_.input_size);
  const DType dt = params_.front().dtype();  // the parameters' (Module::to may have converted them)
  ATTEND_CHECK(input.dtype() == dt, op_, "input ", input.str(), " must have the parameters' dtype ", dtype_name(dt));
  const int64_t B = input.size(opt_.batch_first ? 0 : 1), T = input.size(opt_.batch_first ? 1 : 0);
  ATTEND_CHECK(B > 0 && T > 0, op_, "input ", input.shape().str(), " (", layout, ") has no steps or no batch");
  if (!lengths.empty()) {
    ATTEND_CHECK(static_cast<int64_t>(lengths.size()) == B, op_, "lengths has ", lengths.size(),
                 " entries for batch B = ", B, " (input ", input.shape().str(), ", ", layout, ")");
    for (size_t b = 0; b < lengths.size(); ++b)
      ATTEND_CHECK(lengths[b] >= 1 && lengths[b] <= T, op_, "lengths[", b, "] = ", lengths[b],
                   " is outside [1, T = ", T, "] (input ", input.shape().str(), ", ", layout, ")");
  }
  const Shape state{opt_.num_layers * num_directions(), B, opt_.hidden_size};
  for (const auto& [name, s] : {std::pair<const char*, const Tensor*>{"h0", &h0}, {"c0", &c0}}) {
    if (!s->defined()) continue;
    ATTEND_CHECK(s->shape() == state, op_, name, " ", s->shape().str(), " must be [L*D, B, H] = ", state.str(),
                 " for input ", input.shape().str());
    ATTEND_CHECK(s->dtype() == dt, op_, name, " ", s->str(), " must have the parameters' dtype ", dtype_name(dt));
  }
}

LSTMOutput RecurrentLayers::run(const Tensor& input, const std::vector<int64_t>& lengths, const Tensor& h0,
                                const Tensor& c0) {
  check_inputs(input, lengths, h0, c0);
  const bool lstm = gates_ == 4;
  const DType dt = params_.front().dtype();
  const int64_t L = opt_.num_layers, D = num_directions(), H = opt_.hidden_size;
  Tensor x = contiguous(opt_.batch_first ? transpose(input, 0, 1) : input);  // [T, B, I]
  const int64_t T = x.size(0), B = x.size(1);

  // valid[t] [B, 1]: 1 where step t is inside sequence b; undefined when every sequence has it.
  std::vector<Tensor> valid(static_cast<size_t>(T));
  for (int64_t t = 0; t < T && !lengths.empty(); ++t) {
    std::vector<double> v(static_cast<size_t>(B));
    bool all = true;
    for (int64_t b = 0; b < B; ++b) {
      v[static_cast<size_t>(b)] = t < lengths[static_cast<size_t>(b)] ? 1.0 : 0.0;
      all = all && t < lengths[static_cast<size_t>(b)];
    }
    if (!all) valid[static_cast<size_t>(t)] = Tensor::from_vector(v, Shape{B, 1}, dt);  // [B, 1]
  }
  const Tensor zero = Tensor::zeros(Shape{}, dt);

  std::vector<Tensor> h_n, c_n;
  for (int64_t k = 0; k < L; ++k) {
    std::vector<Tensor> dir_out;
    for (int d = 0; d < D; ++d) {
      const int64_t layer = k * D + d;
      const std::vector<Tensor> gi = unbind0(linear(x, weight_ih(k, d), bias_ih(k, d)));  // T x [B, G*H]
      const Tensor& w_hh = weight_hh(k, d);
      const Tensor& b_hh = bias_hh(k, d);
      LSTMState s{h0.defined() ? row(h0, layer) : Tensor::zeros(Shape{B, H}, dt), Tensor()};  // [B, H]
      if (lstm) s.c = c0.defined() ? row(c0, layer) : Tensor::zeros(Shape{B, H}, dt);      // [B, H]
      std::vector<Tensor> out(static_cast<size_t>(T));
      for (int64_t step = 0; step < T; ++step) {
        const int64_t t = d == 0 ? step : T - 1 - step;
        const Tensor& gi_t = gi[static_cast<size_t>(t)];  // [B, G*H]
        LSTMState next = lstm ? lstm_step(gi_t, s, w_hh, b_hh) : LSTMState{gru_step(gi_t, s.h, w_hh, b_hh), {}};
        const Tensor& m = valid[static_cast<size_t>(t)];
        if (m.defined()) {  // padded steps keep the state and output zeros
          out[static_cast<size_t>(t)] = where(m, next.h, zero);  // [B, H]
          next.h = where(m, next.h, s.h);
          if (lstm) next.c = where(m, next.c, s.c);
        } else {
          out[static_cast<size_t>(t)] = next.h;
        }
        s = std::move(next);
      }
      dir_out.push_back(stack(out, 0));  // [T, B, H]
      h_n.push_back(s.h);
      if (lstm) c_n.push_back(s.c);
    }
    x = D == 2 ? concat(dir_out, 2) : dir_out[0];  // [T, B, D*H]
    if (k + 1 < L && opt_.dropout > 0.0 && is_training()) x = dropout(x, opt_.dropout, true, dropout_rng_);
  }

  LSTMOutput result;
  result.output = opt_.batch_first ? contiguous(transpose(x, 0, 1)) : x;  // [B, T, D*H] or [T, B, D*H]
  result.h_n = stack(h_n, 0);                                             // [L*D, B, H]
  if (lstm) result.c_n = stack(c_n, 0);                                   // [L*D, B, H]
  return result;
}

GRU::GRU(const GRUOptions& opt, Rng& rng) : RecurrentLayers("GRU", 3, opt, rng) {}

GRUOutput GRU::forward(const Tensor& input, const std::vector<int64_t>& lengths, const Tensor& h0) {
  LSTMOutput r = run(input, lengths, h0, Tensor());
  return {std::move(r.output), std::move(r.h_n)};
}

LSTM::LSTM(const LSTMOptions& opt, Rng& rng) : RecurrentLayers("LSTM", 4, opt, rng) {}

LSTMOutput LSTM::forward(const Tensor& input, const std::vector<int64_t>& lengths, const LSTMState& state0) {
  ATTEND_CHECK(state0.h.defined() == state0.c.defined(), "LSTM", "h0 and c0 must both be given or both be undefined "
               "(h0 ", state0.h.defined() ? state0.h.shape().str() : "undefined", ", c0 ",
               state0.c.defined() ? state0.c.shape().str() : "undefined", ")");
  return run(input, lengths, state0.h, state0.c);
}

}  // namespace attend::nn
