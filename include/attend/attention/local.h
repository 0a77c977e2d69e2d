// Local attention, Luong, Pham & Manning 2015, section 3.2: attend only to a window of 2D + 1
// source positions around an aligned position p_t, with any score function (multiplicative.h,
// additive.h) computing scores [B, Tq, Tk].
//   local-m (monotonic): p_t = t, window [p_t - D, p_t + D]; weights = softmax over the window.
//   local-p (predictive): p_t = S * sigmoid(v_p^T tanh(W_p h_t)) with S the source length,
//     window: keys s with |s - p_t| <= D, and
//     a_t(s) = softmax_window(score)(s) * exp(-(s - p_t)^2 / (2 sigma^2)),  sigma = D / 2,
//     not renormalized (as in the paper); the gradient reaches p_t (hence W_p, v_p) through the
//     Gaussian, while the window's edges are piecewise constant in p_t.
// Query row t sits at source position query_offset + t (an incremental decoder at step t passes
// Tq = 1 and query_offset = t). The window is combined with every part of the Mask (padding,
// causal, ...). Returns context [B, Tq, Dv] and on request weights [B, Tq, Tk] (the ones used,
// Gaussian included) and the log-sum-exp of the masked window scores [B, Tq].
#pragma once

#include <cstdint>
#include <vector>

#include "attend/attention/attention.h"
#include "attend/core/rng.h"
#include "attend/core/tensor.h"

namespace attend::attention {

struct LocalOptions {
  int64_t D = 2;             // half window
  int64_t query_offset = 0;  // source position of query row 0 (local-m)
  AttendOptions attend{};    // normalizer, dropout, need_weights, need_lse
};

// scores [B, Tq, Tk], values [B, Tk, Dv].
AttentionResult local_m_attention(const Tensor& scores, const Tensor& values, const Mask& mask = {},
                                  const LocalOptions& opt = {});

// The predictive alignment of local-p.
struct LocalPosition {
  Tensor W_p;  // [A, Dq]
  Tensor v_p;  // [A]
  static LocalPosition init(int64_t query_dim, int64_t attn_dim, Rng& rng, DType dtype = DType::f32);
  // query [B, Tq, Dq] -> p_t = S_b * sigmoid(v_p^T tanh(W_p h_t)) [B, Tq]; source_lengths [B]
  // gives S_b (the real length of each source).
  Tensor positions(const Tensor& query, const std::vector<int64_t>& source_lengths) const;
};

// scores [B, Tq, Tk], values [B, Tk, Dv], positions p_t [B, Tq] (differentiable).
AttentionResult local_p_attention(const Tensor& scores, const Tensor& values, const Tensor& positions,
                                  const Mask& mask = {}, const LocalOptions& opt = {});

}  // namespace attend::attention
