// The one attention skeleton (DESIGN.md section 2) that every family here composes:
//   scores  = score_fn(query, keys)        // the family's own function, [..., Tq, Tk]
//   scores  = apply_mask(scores, mask)     // padding, causal, window, boolean/additive masks
//   weights = normalize(scores)            // softmax, sparsemax, entmax (a Normalizer object)
//   context = dropout(weights) @ values    // [..., Tq, Dv]
// Shapes: scores [B, Tq, Tk] with values [B, Tk, Dv] (RNN-style families), or scores
// [B, H, Tq, Tk] with values [B, Hkv, Tk, Dv], Hkv dividing H (head h reads value head
// h / (H / Hkv)). Returns context [B, (H,) Tq, Dv]; on request the weights (before dropout, the
// ones used) and the per-row log-sum-exp of the masked scores [B, (H,) Tq] (-inf on a fully
// masked row). A fully masked row gives zero weights, a zero context and zero gradients.
#pragma once

#include "attend/attention/mask.h"
#include "attend/attention/normalizers.h"
#include "attend/attention/options.h"
#include "attend/core/rng.h"
#include "attend/core/tensor.h"

namespace attend::attention {

// opt.scale must be 0 (scores come as they are); opt.op names errors (default "attend").
AttentionResult attend(const Tensor& scores, const Tensor& values, const Mask& mask = {},
                       const AttendOptions& opt = {});

// The last step alone: weights [B, Tq, Tk] @ values [B, Tk, Dv], or weights [B, H, Tq, Tk] @ values
// [B, Hkv, Tk, Dv] with grouped heads (no copy of the values per head).
Tensor weighted_sum(const Tensor& weights, const Tensor& values, const char* op = "weighted_sum");

// Dropout on the weights (identity unless opt.training and opt.dropout_p > 0).
Tensor dropout_weights(const Tensor& weights, const AttendOptions& opt);

}  // namespace attend::attention
