// Multiplicative (global) attention, Luong, Pham & Manning 2015, "Effective Approaches to
// Attention-based Neural Machine Translation". Score functions of the decoder state h_t (query)
// against the encoder states hs_s (keys):
//   dot:      score = h_t^T hs_s
//   general:  score = h_t^T W_a hs_s
//   concat:   score = v_a^T tanh(W_a [h_t; hs_s])
//   location: a_t = softmax(W_a h_t) over a maximum source length L, cut to the real length and
//             renormalized (no dependence on the keys).
// Shapes (batch-first): query [B, Tq, Dq] (Tq = 1 is one decoder step), keys [B, Tk, Dk];
// scores [B, Tq, Tk]. Feed the scores to attend() (attention.h) with the values and a mask.
#pragma once

#include <cstdint>

#include "attend/attention/attention.h"
#include "attend/core/rng.h"
#include "attend/core/tensor.h"

namespace attend::attention {

// dot: query [B, Tq, D], keys [B, Tk, D] -> [B, Tq, Tk].
Tensor dot_scores(const Tensor& query, const Tensor& keys);

// general (bilinear): W_a [Dq, Dk] (nn.Linear(Dk, Dq, bias=False).weight).
struct GeneralScore {
  Tensor W_a;  // [Dq, Dk]
  static GeneralScore init(int64_t query_dim, int64_t key_dim, Rng& rng, DType dtype = DType::f32);
  // keys [B, Tk, Dk] -> W_a keys [B, Tk, Dq]: computed once per source, reused at every step.
  Tensor project_keys(const Tensor& keys) const;
  // query [B, Tq, Dq], projected keys [B, Tk, Dq] -> [B, Tq, Tk].
  Tensor scores_projected(const Tensor& query, const Tensor& projected_keys) const;
  Tensor scores(const Tensor& query, const Tensor& keys) const;
};

// concat: W_a [A, Dq + Dk] acting on [h_t; hs_s], v_a [A].
struct ConcatScore {
  Tensor W_a;  // [A, Dq + Dk]
  Tensor v_a;  // [A]
  static ConcatScore init(int64_t query_dim, int64_t key_dim, int64_t attn_dim, Rng& rng, DType dtype = DType::f32);
  // W_a [h; hs] = W_a[:, :Dq] h + W_a[:, Dq:] hs, so the key half is computed once per source.
  Tensor project_keys(const Tensor& keys) const;  // [B, Tk, A]
  Tensor scores_projected(const Tensor& query, const Tensor& projected_keys) const;
  Tensor scores(const Tensor& query, const Tensor& keys) const;
};

// location: W_a [L, Dq], L the maximum source length. scores(query, Tk) = (W_a h_t)[:Tk], i.e.
// [B, Tq, Tk]; softmax over the first Tk logits equals softmax over all L cut to Tk and
// renormalized, and per-batch real lengths come from the Mask's key_lengths.
struct LocationScore {
  Tensor W_a;  // [L, Dq]
  static LocationScore init(int64_t query_dim, int64_t max_source_len, Rng& rng, DType dtype = DType::f32);
  int64_t max_source_len() const { return W_a.size(0); }
  Tensor scores(const Tensor& query, int64_t source_len) const;
};

}  // namespace attend::attention
