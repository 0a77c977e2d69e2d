#include "attend/ops/linalg.h"

#include "attend/autograd/autograd.h"
#include "attend/kernels/gemm.h"
#include "attend/ops/elementwise.h"
#include "attend/ops/reduce.h"
#include "attend/ops/shape_ops.h"

namespace attend {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

// How a [rows, cols] matrix view maps onto GEMM: row-major with leading dimension ld, or its
// transpose (column-major) when the last dim is not the unit-stride one.
struct MatrixLayout {
  bool trans = false;
  int64_t ld = 0;
};

bool gemm_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride, MatrixLayout& out) {
  if (col_stride == 1 && (rows <= 1 || row_stride >= std::max<int64_t>(cols, 1))) {
    out = {false, std::max<int64_t>(row_stride, std::max<int64_t>(cols, 1))};
    return true;
  }
  if (row_stride == 1 && (cols <= 1 || col_stride >= std::max<int64_t>(rows, 1))) {
    out = {true, std::max<int64_t>(col_stride, std::max<int64_t>(rows, 1))};
    return true;
  }
  return false;
}

// C [batch..., M, N] = A [batch..., M, K] @ B [batch..., K, N] with already-broadcast batch dims
// (batch strides may be 0). Matrices whose layout GEMM can read are used in place.
Tensor batched_gemm(Tensor a, Tensor b, const Shape& batch) {
  const int r = batch.rank();
  const int64_t M = a.shape()[r], K = a.shape()[r + 1], N = b.shape()[r + 1];
  MatrixLayout la, lb;
  if (!gemm_layout(M, K, a.strides()[r], a.strides()[r + 1], la)) {
    a = a.clone();
    gemm_layout(M, K, a.strides()[r], a.strides()[r + 1], la);
  }
  if (!gemm_layout(K, N, b.strides()[r], b.strides()[r + 1], lb)) {
    b = b.clone();
    gemm_layout(K, N, b.strides()[r], b.strides()[r + 1], lb);
  }
  Shape os = batch;
  os.push_back(M);
  os.push_back(N);
  Tensor out = Tensor::empty(os, a.dtype());
  const int64_t nb = batch.numel();
  dispatch_dtype(a.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    std::array<int64_t, kMaxRank> idx{};
    for (int64_t bi = 0; bi < nb; ++bi) {
      int64_t oa = 0, ob = 0;
      for (int d = 0; d < r; ++d) {
        oa += idx[static_cast<size_t>(d)] * a.strides()[d];
        ob += idx[static_cast<size_t>(d)] * b.strides()[d];
      }
      if (K == 0) {
        for (int64_t i = 0; i < M * N; ++i) pc[bi * M * N + i] = T(0);
      } else {
        kernels::gemm(la.trans, lb.trans, M, N, K, T(1), pa + oa, la.ld, pb + ob, lb.ld, T(0), pc + bi * M * N, N);
      }
      for (int d = r - 1; d >= 0; --d) {
        if (++idx[static_cast<size_t>(d)] < batch[d]) break;
        idx[static_cast<size_t>(d)] = 0;
      }
    }
  });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  ATTEND_CHECK(a.dtype() == b.dtype(), "matmul", "dtypes differ: a ", a.str(), " vs b ", b.str());
  ATTEND_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul", "operands must have rank >= 1: a ", a.str(), ", b ",
               b.str());
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, -1)), -1);
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  const int64_t M = a.size(-2), K = a.size(-1), K2 = b.size(-2), N = b.size(-1);
  ATTEND_CHECK(K == K2, "matmul", "inner dimensions differ: a ", a.shape().str(), " vs b ", b.shape().str());
  // A stack of matrices times one matrix is one tall GEMM.
  if (b.dim() == 2 && a.dim() > 2) {
    std::vector<int64_t> os = a.shape().vec();
    os.back() = N;
    return reshape(matmul(reshape(a, {-1, K}), b), os);
  }
  Shape ba, bb;
  for (int i = 0; i < a.dim() - 2; ++i) ba.push_back(a.shape()[i]);
  for (int i = 0; i < b.dim() - 2; ++i) bb.push_back(b.shape()[i]);
  const Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape sa = batch, sb = batch;
  sa.push_back(M);
  sa.push_back(K);
  sb.push_back(K);
  sb.push_back(N);
  Tensor out;
  {
    NoGrad ng;  // the views below are bookkeeping, not part of the graph
    out = batched_gemm(expand(a, sa), expand(b, sb), batch);
  }
  // C = A B: dA = dC B^T, dB = A^T dC, each summed over the batch dims it was broadcast along.
  record("matmul", {a, b}, out, [a = a.detach(), b = b.detach()](const Grads& g) -> Grads {
    return {sum_to(matmul(g[0], transpose(b, -1, -2)), a.shape()),
            sum_to(matmul(transpose(a, -1, -2), g[0]), b.shape())};
  });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  ATTEND_CHECK(w.dim() == 2, "linear", "weight must be [out, in], got ", w.str());
  ATTEND_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear", "input ", x.shape().str(),
               " does not end in the weight's in_features: weight ", w.shape().str());
  Tensor y = matmul(x, transpose(w, 0, 1));
  if (bias.defined()) {
    ATTEND_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "linear", "bias ", bias.shape().str(),
                 " does not match weight ", w.shape().str());
    y = add(y, bias);
  }
  return y;
}

}  // namespace attend
