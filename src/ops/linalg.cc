#include "attend/ops/linalg.h"

#include <algorithm>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/core/threads.h"
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

namespace {

// x as a [rows, cols] matrix GEMM can read in place (its last dim unit-stride and its other dims,
// size-1 dims aside, one flat run of rows), or a contiguous copy; `ld` is its row stride.
Tensor as_rows(const Tensor& x, int64_t rows, int64_t cols, int64_t& ld) {
  const int r = x.dim();
  std::vector<int> lead;  // the leading dims of size > 1, outermost first
  for (int d = 0; d + 1 < r; ++d)
    if (x.size(d) > 1) lead.push_back(d);
  bool flat = cols <= 1 || x.strides()[r - 1] == 1;
  const int64_t step = lead.empty() ? cols : x.strides()[lead.back()];
  for (size_t i = 0; flat && i + 1 < lead.size(); ++i)
    flat = x.strides()[lead[i]] == x.strides()[lead[i + 1]] * x.size(lead[i + 1]);
  flat = flat && (rows <= 1 || step >= cols);
  if (flat) {
    ld = std::max<int64_t>(step, std::max<int64_t>(cols, 1));
    return x;
  }
  ld = std::max<int64_t>(cols, 1);
  return x.contiguous();
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  ATTEND_CHECK(w.dim() == 2, "linear", "weight must be [out, in], got ", w.str());
  ATTEND_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear", "input ", x.shape().str(),
               " does not end in the weight's in_features: weight ", w.shape().str());
  ATTEND_CHECK(x.dtype() == w.dtype(), "linear", "dtypes differ: input ", x.str(), ", weight ", w.str());
  ATTEND_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == w.size(0) && bias.dtype() == w.dtype()),
               "linear", "bias ", bias.defined() ? bias.str() : "", " does not match weight ", w.shape().str());
  const int64_t C = w.size(1), O = w.size(0), N = C == 0 ? 0 : x.numel() / C;
  std::vector<int64_t> os = x.shape().vec();
  os.back() = O;
  Tensor out = Tensor::empty(Shape(os), x.dtype());  // [..., O]
  int64_t ldx = 0;
  const Tensor xm = as_rows(x.detach(), N, C, ldx);
  const Tensor wm = w.detach().contiguous(), bm = bias.defined() ? bias.detach().contiguous() : Tensor();
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    T* po = out.data<T>();
    if (bm.defined()) {
#pragma omp parallel for schedule(static) if (N * O >= (int64_t{1} << 16)) num_threads(num_threads())
      for (int64_t i = 0; i < N; ++i) std::copy_n(bm.data<T>(), O, po + i * O);
    }
    if (C == 0) {
      if (!bm.defined()) std::fill_n(po, N * O, T(0));
      return;
    }
    if (N > 0 && O > 0)
      kernels::gemm(false, true, N, O, C, T(1), xm.data<T>(), ldx, wm.data<T>(), C, bm.defined() ? T(1) : T(0), po, O);
  });
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gb = bias.defined() && bias.requires_grad();
  std::vector<Tensor> inputs{x, w};
  if (bias.defined()) inputs.push_back(bias);
  record("linear", inputs, out, [xm, ldx, wm, gx, gw, gb, N, C, O, xs = x.shape(), has_bias = bias.defined()](
                                    const Grads& g) -> Grads {
    const Tensor go = g[0].contiguous();  // [..., O] = [N, O]
    Tensor dx, dw, db;
    dispatch_dtype(go.dtype(), [&]<typename T>() {
      const T* pg = go.data<T>();
      if (gx) {  // dx = g w: [N, O] x [O, C]
        dx = Tensor::empty(xs, go.dtype());
        if (N > 0 && C > 0) {
          if (O > 0) kernels::gemm(false, false, N, C, O, T(1), pg, O, wm.data<T>(), C, T(0), dx.data<T>(), C);
          else std::fill_n(dx.data<T>(), N * C, T(0));
        }
      }
      if (gw) {  // dw = g^T x: [O, N] x [N, C]
        const bool product = N > 0 && O > 0 && C > 0;
        dw = product ? Tensor::empty(Shape{O, C}, go.dtype()) : Tensor::zeros(Shape{O, C}, go.dtype());
        if (product) kernels::gemm(true, false, O, C, N, T(1), pg, O, xm.data<T>(), ldx, T(0), dw.data<T>(), C);
      }
      if (gb) {  // db = sum over the rows of g: blocks of columns over the threads, rows in order
        db = Tensor::empty(Shape{O}, go.dtype());
        T* pb = db.data<T>();
        constexpr int64_t kCols = 64;
        const int64_t blocks = (O + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) num_threads(N * O >= (int64_t{1} << 16) ? num_threads() : 1)
        for (int64_t cb = 0; cb < blocks; ++cb) {
          const int64_t o0 = cb * kCols, cols = std::min(kCols, O - o0);
          T acc[kCols] = {};
          for (int64_t i = 0; i < N; ++i) {
            const T* row = pg + i * O + o0;
            for (int64_t o = 0; o < cols; ++o) acc[o] += row[o];
          }
          std::copy_n(acc, cols, pb + o0);
        }
      }
    });
    Grads grads{dx, dw};
    if (has_bias) grads.push_back(db);
    return grads;
  });
  return out;
}

}  // namespace attend
