// Fused sparse scaled-dot-product attention on the CPU: the flash kernel's contract
// (flash_attention.h: operands, strides, masks, grouped heads) with alpha-entmax (Peters, Niculae
// & Martins 2019) in place of the softmax, forward and backward, on raw float pointers.
//
//   S = scale * Q K^T + M_add           (masked entries: S = -inf)        // [B, H, Tq, Tk]
//   x = (alpha - 1) S - max_j (alpha - 1) S                               // per row, x <= 0
//   P = max(x - tau, 0)^(1 / (alpha - 1)),   tau per row with sum_j P = 1 // [B, H, Tq, Tk]
//   O = P V                                                               // [B, H, Tq, D]
// alpha = 2 is sparsemax, 1.5 is 1.5-entmax: tau exact by sorting (Martins & Astudillo 2016;
// Peters et al. Algorithm 2), in float64. Any other alpha > 1: the support by bisection over the
// sorted candidates, then Newton's method on it, in float64, and P renormalized (as the composed
// entmax_bisect does). Only x > -1 can be in the support (tau >= -1), so the threshold works on
// those candidates, never on the whole row.
//
// Memory: a block of kSparseRows query rows at a time holds its scores against every key
// ([kSparseRows, Tk] floats per thread: O(N), never O(N^2)); the threshold needs the whole row,
// which the softmax's online rescaling does not. Nothing is stored between the passes: the
// backward and the weights recompute S bit-identically (the same GEMM on the same block) and with
// it the same tau.
//
// Backward (the entmax Jacobian, DESIGN of normalizers.h): with s = P^(2 - alpha) on the support,
//   dP = dO V^T,  q = sum_j s_j dP_j / sum_j s_j,  dS = s * (dP - q)      // per row, support only
//   dV = P^T dO,  dQ = scale dS K,  dK = scale dS^T Q
// all sums over the support of each row, so the work past the scores is O(support * D).
// A fully masked row gives O = 0, P = 0 and zero gradients. No dropout (dropout.p must be 0).
#pragma once

#include <cstdint>

#include "attend/kernels/flash_attention.h"

namespace attend::kernels {

constexpr int64_t kSparseRows = 32;  // query rows per block

struct SparseAttentionParams {
  FlashParams base;    // q, k, v, o, scale, mask, stats; lse, lse_lo and dropout are not used
  double alpha = 2.0;  // > 1
};

// Writes base.o.
void sparse_attention_forward(const SparseAttentionParams& p);

// Writes dq, dk, dv (overwritten) from dout; reads q, k, v (o is not needed).
void sparse_attention_backward(const SparseAttentionParams& p, FlashTensor<const float> dout, FlashTensor<float> dq,
                               FlashTensor<float> dk, FlashTensor<float> dv);

// The exact weights P for the requested heads and rows (FlashWeightsRequest as for the softmax).
void sparse_attention_weights(const SparseAttentionParams& p, const FlashWeightsRequest& req);

}  // namespace attend::kernels
