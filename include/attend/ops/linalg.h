// Matrix products through kernels::gemm.
#pragma once

#include "attend/core/tensor.h"

namespace attend {

// a [..., M, K] @ b [..., K, N] -> [..., M, N]; the batch dims broadcast. Rank >= 2 each, or a
// 1-D b [K] (matrix-vector). Gradients: dA = dC @ B^T, dB = A^T @ dC (summed over broadcast).
Tensor matmul(const Tensor& a, const Tensor& b);
// x [..., in] @ w[out, in]^T + bias[out] (bias may be undefined) -> [..., out]: PyTorch's linear.
// One GEMM over the N = x.numel() / in rows (the bias copied into the output first, beta = 1), and
// one node whose backward is three GEMM-shaped passes: dx = g w, dw = g^T x, db = the column sums
// of g, each only for an input that wants it.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor());

}  // namespace attend
