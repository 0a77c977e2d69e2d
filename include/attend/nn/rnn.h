// Recurrent cells and layers: PyTorch's nn.GRUCell, nn.LSTMCell, nn.GRU and nn.LSTM, with the same
// parameter names, layouts, gate orders and initialization, composed from differentiable ops so
// that autograd reaches every parameter. The bidirectional encoder of Bahdanau et al. (2015,
// "Neural Machine Translation by Jointly Learning to Align and Translate") is a GRU layer with
// bidirectional = true; its annotations h_j = [h_fwd_j; h_bwd_j] are the layer's output.
//
// GRU (Cho et al. 2014), gate order r, z, n in the rows of weight_ih / weight_hh:
//   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
// LSTM (Hochreiter & Schmidhuber 1997, with a forget gate), gate order i, f, g, o:
//   i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      f = sigmoid(W_if x + b_if + W_hf h + b_hf)
//   g = tanh(W_ig x + b_ig + W_hg h + b_hg)         o = sigmoid(W_io x + b_io + W_ho h + b_ho)
//   c' = f * c + i * g
//   h' = o * tanh(c')
//
// Shapes: B batch, T time steps, I input_size, H hidden_size, G gates (3 for GRU, 4 for LSTM),
// L num_layers, D directions (2 when bidirectional, else 1).
// Cell parameters (state_dict names): weight_ih [G*H, I], weight_hh [G*H, H], bias_ih [G*H],
// bias_hh [G*H]. Layer parameters, for layer k and direction suffix "" or "_reverse":
// weight_ih_l{k}{suffix} [G*H, I] for k = 0 and [G*H, D*H] above, weight_hh_l{k}{suffix} [G*H, H],
// bias_ih_l{k}{suffix} [G*H], bias_hh_l{k}{suffix} [G*H], registered in PyTorch's order (layer,
// then direction, then weight_ih, weight_hh, bias_ih, bias_hh).
// Initialization as PyTorch: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), drawn from the given
// attend::Rng in registration order, so a seed fixes the module.
//
// Numerics: everything is computed in the parameters' dtype (f32 or f64); inputs must share it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attend/core/rng.h"
#include "attend/nn/module.h"

namespace attend::nn {

// ---------------------------------------------------------------------------------------------
// Functional cells: one time step, differentiable w.r.t. every argument. Biases may be undefined.
// ---------------------------------------------------------------------------------------------

// x [B, I], h [B, H], w_ih [3H, I], w_hh [3H, H], b_ih [3H], b_hh [3H] -> h' [B, H].
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                const Tensor& b_hh);

struct LSTMState {
  Tensor h;  // [B, H] for a cell, [L*D, B, H] for a layer's initial/final state
  Tensor c;  // same shape as h
};

// x [B, I], state.h [B, H], state.c [B, H], w_ih [4H, I], w_hh [4H, H], b_ih [4H], b_hh [4H]
// -> (h' [B, H], c' [B, H]).
LSTMState lstm_cell(const Tensor& x, const LSTMState& state, const Tensor& w_ih, const Tensor& w_hh,
                    const Tensor& b_ih, const Tensor& b_hh);

// ---------------------------------------------------------------------------------------------
// Cell modules
// ---------------------------------------------------------------------------------------------

struct RNNCellOptions {
  int64_t input_size = 0;   // I
  int64_t hidden_size = 0;  // H
  bool bias = true;
  DType dtype = DType::f32;  // of the parameters as built; Module::to converts them (inputs follow)
};
using GRUCellOptions = RNNCellOptions;
using LSTMCellOptions = RNNCellOptions;

class GRUCell : public Module {
 public:
  GRUCell(const GRUCellOptions& opt, Rng& rng);

  // x [B, I], h [B, H] (undefined: zeros) -> h' [B, H]. Errors "[GRUCell] ..." name the shapes.
  Tensor forward(const Tensor& x, const Tensor& h = Tensor()) const;

  const GRUCellOptions& options() const { return opt_; }

  Tensor weight_ih;  // [3H, I]
  Tensor weight_hh;  // [3H, H]
  Tensor bias_ih;    // [3H], undefined when !bias
  Tensor bias_hh;    // [3H], undefined when !bias

 private:
  GRUCellOptions opt_;
};

class LSTMCell : public Module {
 public:
  LSTMCell(const LSTMCellOptions& opt, Rng& rng);

  // x [B, I], state (h [B, H], c [B, H]; both undefined: zeros) -> (h' [B, H], c' [B, H]).
  // Errors "[LSTMCell] ..." name the shapes.
  LSTMState forward(const Tensor& x, const LSTMState& state = {}) const;

  const LSTMCellOptions& options() const { return opt_; }

  Tensor weight_ih;  // [4H, I]
  Tensor weight_hh;  // [4H, H]
  Tensor bias_ih;    // [4H], undefined when !bias
  Tensor bias_hh;    // [4H], undefined when !bias

 private:
  LSTMCellOptions opt_;
};

// ---------------------------------------------------------------------------------------------
// Layers: L stacked layers, each running over the whole sequence in one or two directions.
// ---------------------------------------------------------------------------------------------
//
// Layer k > 0 reads the concatenated outputs of both directions of layer k - 1, after dropout
// (training mode only; none after the last layer). The backward direction of a bidirectional
// layer runs from each sequence's own last token (t = lengths[b] - 1) to t = 0.
//
// Variable lengths (PyTorch's pack_padded_sequence with enforce_sorted=False): lengths[b] in
// [1, T] is the number of valid steps of sequence b; steps t >= lengths[b] never update its state,
// their outputs are zeros and their inputs receive zero gradient. h_n holds, per layer and
// direction, the state after the last valid step (forward) or after t = 0 (backward). An empty
// `lengths` means every sequence has length T.

struct RNNOptions {
  int64_t input_size = 0;   // I
  int64_t hidden_size = 0;  // H
  int64_t num_layers = 1;   // L
  bool bias = true;
  bool batch_first = false;  // input/output [B, T, .] instead of PyTorch's default [T, B, .]
  double dropout = 0.0;      // on the outputs of every layer but the last, in training mode only
  bool bidirectional = false;
  DType dtype = DType::f32;  // of the parameters as built; Module::to converts them (inputs follow)
};
using GRUOptions = RNNOptions;
using LSTMOptions = RNNOptions;

struct GRUOutput {
  Tensor output;  // [B, T, D*H] (batch_first) or [T, B, D*H]; zeros at padded steps
  Tensor h_n;     // [L*D, B, H], row k*D + d for layer k, direction d (0 forward, 1 backward)
};

struct LSTMOutput {
  Tensor output;  // [B, T, D*H] (batch_first) or [T, B, D*H]; zeros at padded steps
  Tensor h_n;     // [L*D, B, H]
  Tensor c_n;     // [L*D, B, H]
};

// The part GRU and LSTM share: options, parameters by layer and direction, input checks and the
// loop over layers, directions and time steps.
class RecurrentLayers : public Module {
 public:
  const RNNOptions& options() const { return opt_; }
  int64_t num_directions() const { return opt_.bidirectional ? 2 : 1; }
  // The parameter slots of layer k, direction d (0 forward, 1 reverse).
  Tensor& weight_ih(int64_t k, int d) { return slot(k, d, 0); }
  Tensor& weight_hh(int64_t k, int d) { return slot(k, d, 1); }
  Tensor& bias_ih(int64_t k, int d) { return slot(k, d, 2); }
  Tensor& bias_hh(int64_t k, int d) { return slot(k, d, 3); }
  // The stream dropout draws from (seeded from the constructor's rng); reseed to reproduce a run.
  Rng& dropout_rng() { return dropout_rng_; }

 protected:
  RecurrentLayers(const char* op, int64_t gates, const RNNOptions& opt, Rng& rng);

  // input [T, B, I] or [B, T, I]; h0, c0 [L*D, B, H] or undefined (zeros; c0 only for LSTM).
  LSTMOutput run(const Tensor& input, const std::vector<int64_t>& lengths, const Tensor& h0, const Tensor& c0);

 private:
  Tensor& slot(int64_t k, int d, int which);
  void check_inputs(const Tensor& input, const std::vector<int64_t>& lengths, const Tensor& h0,
                    const Tensor& c0) const;

  const char* op_;
  int64_t gates_;  // G: 3 (GRU) or 4 (LSTM)
  RNNOptions opt_;
  std::vector<Tensor> params_;  // 4 per (layer, direction); sized once, so the registered addresses hold
  Rng dropout_rng_;
};

class GRU : public RecurrentLayers {
 public:
  GRU(const GRUOptions& opt, Rng& rng);

  // input [B, T, I] (batch_first) or [T, B, I]; lengths: B entries in [1, T] or empty (all T);
  // h0 [L*D, B, H] or undefined (zeros). Errors "[GRU] ..." name the shapes.
  GRUOutput forward(const Tensor& input, const std::vector<int64_t>& lengths = {}, const Tensor& h0 = Tensor());
};

class LSTM : public RecurrentLayers {
 public:
  LSTM(const LSTMOptions& opt, Rng& rng);

  // input [B, T, I] (batch_first) or [T, B, I]; lengths: B entries in [1, T] or empty (all T);
  // state0 h, c [L*D, B, H] or both undefined (zeros). Errors "[LSTM] ..." name the shapes.
  LSTMOutput forward(const Tensor& input, const std::vector<int64_t>& lengths = {}, const LSTMState& state0 = {});
};

}  // namespace attend::nn
