// Float64 naive references for the attention layer (the independent oracle of DESIGN.md section 6):
// plain loops over row-major std::vector<double>, no attend op anywhere, and where possible a
// different algorithm from the library (sparsemax and entmax-1.5 by bisection on the threshold,
// location attention by the literal softmax over L, cut and renormalized).
// Every function takes tensors of any dtype and returns f64 tensors.
#pragma once

#include <cstdint>
#include <vector>

#include "attend/attention/mask.h"
#include "attend/attention/normalizers.h"
#include "attend/core/tensor.h"

namespace attend::ref {

struct Attention {
  Tensor context;  // [B, (H,) Tq, Dv]
  Tensor weights;  // [B, (H,) Tq, Tk]
  Tensor lse;      // [B, (H,) Tq]
};

// 1/0 "may attend" for every [b, h, i, j] of scores [B, H, Tq, Tk], by the rules of mask.h.
Tensor mask_allowed(const attention::Mask& mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk);
// The whole mask as one additive f64 tensor [B, H, Tq, Tk]: 0 / -inf plus an additive attn_mask.
Tensor mask_additive(const attention::Mask& mask, int64_t B, int64_t H, int64_t Tq, int64_t Tk);

// Normalizers over the last axis (-inf entries get 0; a row of all -inf gives zeros).
Tensor normalize(const Tensor& scores, const attention::Normalizer& n);
Tensor logsumexp(const Tensor& scores);  // [..., Tk] -> [...]

// The skeleton on given scores [B, H, Tq, Tk] (or [B, Tq, Tk]) and values [B, Hkv, Tk, Dv] (or
// [B, Tk, Dv]); `factor` (optional, [B, Tq, Tk] or scores' shape) multiplies the weights.
// `extra_allowed` (optional, scores' shape) ANDs into the mask.
Attention attend(const Tensor& scores, const Tensor& values, const attention::Mask& mask,
                 const attention::Normalizer& n = attention::Normalizer::softmax(), const Tensor& extra_allowed = Tensor(),
                 const Tensor& factor = Tensor());

// Scaled dot: q [B, H, Tq, D], k [B, Hkv, Tk, D] -> [B, H, Tq, Tk]; scale 0 = 1/sqrt(D).
Tensor scaled_dot_scores(const Tensor& q, const Tensor& k, double scale);
Attention sdpa(const Tensor& q, const Tensor& k, const Tensor& v, const attention::Mask& mask, double scale = 0.0);

// Luong scores, query [B, Tq, Dq], keys [B, Tk, Dk] -> [B, Tq, Tk].
Tensor dot_scores(const Tensor& q, const Tensor& k);
Tensor general_scores(const Tensor& q, const Tensor& k, const Tensor& W_a);                   // W_a [Dq, Dk]
Tensor concat_scores(const Tensor& q, const Tensor& k, const Tensor& W_a, const Tensor& v_a);  // [A, Dq+Dk], [A]
// Location: softmax(W_a h_t) over all L, cut to lengths[b] and renormalized -> weights [B, Tq, Tk]
// (zero beyond lengths[b]).
Tensor location_weights(const Tensor& q, const Tensor& W_a, int64_t Tk, const std::vector<int64_t>& lengths);
// Bahdanau: v^T tanh(W_q q + W_k k + b).
Tensor additive_scores(const Tensor& q, const Tensor& k, const Tensor& W_q, const Tensor& W_k, const Tensor& b,
                       const Tensor& v);

// Luong local-m: window |s - (offset + t)| <= D on top of `mask`.
Attention local_m(const Tensor& scores, const Tensor& values, const attention::Mask& mask, int64_t D,
                  int64_t query_offset, const attention::Normalizer& n = attention::Normalizer::softmax());
// Luong local-p: p_t = S_b * sigmoid(v_p . tanh(W_p h_t)) [B, Tq].
Tensor local_p_positions(const Tensor& q, const Tensor& W_p, const Tensor& v_p, const std::vector<int64_t>& S);
Attention local_p(const Tensor& scores, const Tensor& values, const Tensor& positions, const attention::Mask& mask,
                  int64_t D, const attention::Normalizer& n = attention::Normalizer::softmax());

}  // namespace attend::ref
