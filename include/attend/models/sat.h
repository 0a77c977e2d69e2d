// sat: Show, Attend and Tell (Xu et al. 2015), an image captioner that looks at a region of the
// image for each word it writes.
//
// Encoder: a small CNN over the image x [B, S, S, C] (the source's features [B, S*S, C], pixels row
// by row, in [0, 1], normalized by pixel_mean and pixel_std): conv_layers blocks of a 3 x 3
// convolution (padding 1), ReLU and a 2 x 2 max pooling, with widths min(cnn_width 2^i,
// feature_dim) and feature_dim last, give a grid of G x G regions (G = S / 2^conv_layers), the
// annotation vectors a [B, R = G*G, F] in reading order.
//
// Decoder: an LSTM initialized from the mean annotation, h_0 = tanh(W_h mean(a)), c_0 =
// tanh(W_c mean(a)); at step t
//   e_ti    = v^T tanh(W_q h_{t-1} + W_k a_i + b)                   additive score
//   alpha_t = softmax(e_t)                                         [B, R]
//   soft:   z_t = beta_t sum_i alpha_ti a_i                          the expected annotation
//   hard:   s_t ~ Multinomial(alpha_t) (training; the arg max in inference), z_t = beta_t a_{s_t}
//   beta_t  = sigmoid(w_beta^T h_{t-1} + b_beta)                   the gate (1 when gate = false)
//   h_t, c_t = LSTM([E y_{t-1}; z_t], h_{t-1}, c_{t-1})
//   logits  = L_o dropout(E y_{t-1} + L_hz [h_t; z_t])             the deep output (Xu eq. 7)
//
// Auxiliary terms (training mode), over the M real target positions of the batch (the objective's
// tokens), each reported by name:
//   doubly_stochastic  lambda sum_b sum_i (1 - sum_t alpha_ti)^2 / M   (soft; attention that
//                      covers every region once over the caption)
//   reinforce          -sum_b (r_b - baseline) sum_t log alpha_{t, s_t} / M    (hard; REINFORCE,
//                      Williams 1992), r_b = sum_t log p(y_t) of caption b with the sampled
//                      regions; baseline <- decay baseline + (1 - decay) mean_b r_b after each
//                      training batch (the moving average of Xu et al. section 4.1; the first
//                      batch's mean starts it). Its value is subtracted (the term is 0 with the
//                      REINFORCE gradient), so the logged loss stays the cross-entropy. The
//                      baseline is not saved: a resumed run starts it again.
//   entropy            -entropy_bonus sum_b sum_t H(alpha_t) / M   (hard; keeps exploring)
//
// Parameters: cnn.<i>.{weight [W_i, W_{i-1}, 3, 3], bias}, init_h.*, init_c.*, attention.{W_q,
// W_k, b, v}, gate.* (with gate), embed.weight [V, E], decoder.* (nn::LSTMCell, input E + F),
// readout.* [E, H + F], output.* [V, E].
#pragma once

#include "attend/models/config.h"

namespace attend::models {

enum class SatAttention { soft, hard };

struct SatConfig : ConfigOf<SatConfig, SequenceToSequenceConfig> {
  static constexpr const char* kName = "sat";
  int64_t image_size = 96;  // S
  int64_t channels = 1;     // C
  int64_t conv_layers = 4;
  int64_t cnn_width = 16;
  int64_t feature_dim = 64;  // F
  int64_t embed_dim = 64;    // E
  int64_t hidden_dim = 256;  // H
  int64_t attention_dim = 128;
  double dropout = 0.1;
  SatAttention attention = SatAttention::soft;
  bool gate = true;
  double doubly_stochastic = 1.0;  // lambda (0: off)
  double entropy_bonus = 0.01;
  double baseline_decay = 0.9;
  double pixel_mean = 0.0582;  // of scenes: mostly background
  double pixel_std = 0.2000;

  std::vector<Field> arch_fields() override;
  int64_t grid() const { return image_size >> conv_layers; }
  // The width of convolution i (0-based).
  int64_t conv_width(int64_t i) const;

 protected:
  void check_more() const override;
};

}  // namespace attend::models
