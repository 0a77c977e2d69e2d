// Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need"):
//   scores = (Q K^T) * scale (+ additive masks), masked, weights = softmax(scores),
//   context = dropout(weights) V.
// Shapes: q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv] with Hkv dividing H (grouped-
// query; Hkv = 1 is multi-query): head h reads key/value head h / (H / Hkv).
// Returns context [B, H, Tq, Dv]; on request the weights [B, H, Tq, Tk] (before dropout) and the
// per-row log-sum-exp [B, H, Tq] of the masked, scaled scores (-inf for a fully masked row).
// Options (options.h): scale (0 = 1/sqrt(D)), a normalizer (softmax unless told; any other runs
// the composed path), dropout, what to return.
#pragma once

#include <cstdint>

#include "attend/attention/mask.h"
#include "attend/attention/options.h"
#include "attend/core/rng.h"
#include "attend/core/tensor.h"

namespace attend::attention {

// The entry point: the fused kernel (flash.h) wherever it applies, else the composition below;
// choose_attention_path() says which and why, ATTEND_ATTENTION=fused|composed forces one.
AttentionResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Mask& mask = {},
                                             const SdpaOptions& opt = {});

// The reference composition of ops, the ground truth any fused path must agree with:
// scaled_dot_scores -> apply_mask -> softmax -> dropout -> weighted_sum (the skeleton of
// attention.h). Same contract as scaled_dot_product_attention.
AttentionResult scaled_dot_product_attention_composed(const Tensor& q, const Tensor& k, const Tensor& v,
                                                      const Mask& mask = {}, const SdpaOptions& opt = {});

// The score function alone: q [B, H, Tq, D], k [B, Hkv, Tk, D] -> (Q K^T) * scale [B, H, Tq, Tk],
// grouped heads without copying k. scale 0 = 1/sqrt(D).
Tensor scaled_dot_scores(const Tensor& q, const Tensor& k, double scale = 0.0,
                         const char* op = "scaled_dot_scores");

}  // namespace attend::attention
