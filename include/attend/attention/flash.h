// The fused path of scaled dot-product attention: kernels::flash_attention_* (FlashAttention-2,
// Dao 2023) wrapped as one differentiable op on Tensors, and the dispatcher that picks it.
//
// Same contract as scaled_dot_product_attention (scaled_dot.h): q [B, H, Tq, D],
// k/v [B, Hkv, Tk, D] -> context [B, H, Tq, D], weights [B, H, Tq, Tk], lse [B, H, Tq]. The
// Tq x Tk score matrix is never materialized, masks included: key lengths, causal and windows are
// passed as rules, key padding and attn_mask tensors by broadcast strides. The backward
// recomputes the probabilities from the stored log-sum-exp (O(N) memory).
// Dropout draws the same mask as the composed path: element (b, h, i, j) of the weights uses
// philox_uniform(rng.seed(), offset, flat index), offset = rng.advance(B * H * Tq * Tk), exactly
// what attend::dropout does on the [B, H, Tq, Tk] weights.
// Weights and lse returned by the fused path are exact (recomputed from the lse) but carry no
// gradient; ask for the composed path when differentiating through the weights themselves.
#pragma once

#include <string>

#include "attend/attention/mask.h"
#include "attend/attention/scaled_dot.h"
#include "attend/core/tensor.h"

namespace attend::attention {

enum class AttentionPath { fused, composed };

struct Dispatch {
  AttentionPath path = AttentionPath::composed;
  std::string reason;  // why, in words: "fused: f32, D = 64, causal" or "composed: q is f64 ..."
};

// The path scaled_dot_product_attention takes for these arguments, and why. ATTEND_ATTENTION=
// fused|composed|auto (default auto) forces a path; forcing `fused` where it cannot apply is an
// Error naming the reason.
Dispatch choose_attention_path(const Tensor& q, const Tensor& k, const Tensor& v, const Mask& mask,
                               const SdpaOptions& opt);

// Checks ATTEND_ATTENTION now (fused, composed, auto or unset) rather than at the first attention
// call; an Error naming the variable and the value otherwise. Programs call it at start-up so a
// misspelt value fails before any work or output.
void check_attention_env();

// Whether the fused kernel can compute this call at all (empty reason when it can).
std::string fused_unsupported_reason(const Tensor& q, const Tensor& k, const Tensor& v, const Mask& mask,
                                     const SdpaOptions& opt);

// The fused path itself; an Error if fused_unsupported_reason() is not empty.
AttentionResult scaled_dot_product_attention_fused(const Tensor& q, const Tensor& k, const Tensor& v,
                                                   const Mask& mask = {}, const SdpaOptions& opt = {});

}  // namespace attend::attention
