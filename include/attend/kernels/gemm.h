// GEMM on row-major matrices: C[M, N] = alpha * op(A) * op(B) + beta * C, with op(X) = X or X^T.
// A is [M, K] (or [K, M] when trans_a), B is [K, N] (or [N, K] when trans_b); lda/ldb/ldc are
// row strides in elements.
// f32 goes to oneDNN's dnnl_sgemm (measured fastest on this machine, see docs/performance.md);
// f64 is a plain blocked loop, used for references and gradient checks only.
#pragma once

#include <cstdint>

namespace attend::kernels {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

}  // namespace attend::kernels
