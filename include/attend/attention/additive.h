// Additive attention, Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning
// to Align and Translate":
//   score(q, k) = v^T tanh(W_q q + W_k k + b)
// with learned projections W_q [A, Dq], W_k [A, Dk], bias b [A] and v [A] (not the projection-free
// simplification). Shapes: query [B, Tq, Dq] (Tq = 1: one decoder step), keys [B, Tk, Dk] ->
// scores [B, Tq, Tk]; feed them to attend() (attention.h). The keys are projected once per source
// sentence (project_keys) and reused at every decoder step (scores_projected).
// Numerical notes: the [B, Tq, Tk, A] tanh tensor is materialized; fine for RNN-sized A.
#pragma once

#include <cstdint>

#include "attend/attention/attention.h"
#include "attend/core/rng.h"
#include "attend/core/tensor.h"

namespace attend::attention {

struct AdditiveScore {
  Tensor W_q;  // [A, Dq]
  Tensor W_k;  // [A, Dk]
  Tensor b;    // [A]
  Tensor v;    // [A]
  static AdditiveScore init(int64_t query_dim, int64_t key_dim, int64_t attn_dim, Rng& rng,
                            DType dtype = DType::f32);
  // keys [B, Tk, Dk] -> W_k k + b [B, Tk, A]
  Tensor project_keys(const Tensor& keys) const;
  // query [B, Tq, Dq], projected keys [B, Tk, A] -> [B, Tq, Tk]
  Tensor scores_projected(const Tensor& query, const Tensor& projected_keys) const;
  Tensor scores(const Tensor& query, const Tensor& keys) const;
};

}  // namespace attend::attention
