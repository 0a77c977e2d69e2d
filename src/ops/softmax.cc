// softmax, log_softmax, masked_fill, where.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <limits>

#include "attend/autograd/autograd.h"
#include "attend/ops/elementwise.h"
#include "attend/ops/nn_ops.h"
#include "attend/ops/reduce.h"
#include "attend/core/threads.h"
#include "attend/kernels/flash_attention.h"
#include "../kernels/fast_math.h"
#include "map.h"

namespace attend {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

// Calls f(row_pointer_offset, stride) for every 1-D row of a contiguous tensor along `axis`.
template <typename F>
void for_each_row(const Shape& s, int axis, F&& f) {
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < s.rank(); ++i) inner *= s[i];
  const int64_t n = s[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) f(o * n * inner + i, inner, n);
}

enum class Kind { softmax, log_softmax };

// y = softmax or log_softmax of x along axis; rows of all -inf give 0 (softmax) or -inf
// (log_softmax). The exponentials are computed in T and the row sum is accumulated in double;
// float rows of the last axis (the usual case: attention scores, vocabulary logits) go to the
// kernels' vectorized kernels::softmax_rows, chunks of rows spread over the threads; other rows
// use detail::softmax_exp (exactly 0 for masked entries).
Tensor softmax_forward(const Tensor& x, int axis, Kind kind) {
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(xc.shape(), xc.dtype());
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    const T* p = xc.data<T>();
    T* q = y.data<T>();
    auto row = [&](int64_t off, int64_t st, int64_t n) {
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < n; ++j) m = std::max(m, p[off + j * st]);
      if (m == -std::numeric_limits<T>::infinity()) {
        const T fillv = kind == Kind::softmax ? T(0) : m;
        for (int64_t j = 0; j < n; ++j) q[off + j * st] = fillv;
        return;
      }
      double s = 0.0;
      if (st == 1) {
        const T* pr = p + off;
        T* qr = q + off;
        for (int64_t j = 0; j < n; ++j) qr[j] = detail::softmax_exp<T>(pr[j] - m);
        s = detail::sum_as_double(qr, n);
        if (kind == Kind::softmax) {
          const T inv = static_cast<T>(1.0 / s);
          for (int64_t j = 0; j < n; ++j) qr[j] *= inv;
        } else {
          const T lse = m + static_cast<T>(std::log(s));
          for (int64_t j = 0; j < n; ++j) qr[j] = pr[j] - lse;
        }
        return;
      }
      for (int64_t j = 0; j < n; ++j) s += static_cast<double>(detail::softmax_exp<T>(p[off + j * st] - m));
      if (kind == Kind::softmax) {
        const double inv = 1.0 / s;
        for (int64_t j = 0; j < n; ++j)
          q[off + j * st] = static_cast<T>(static_cast<double>(detail::softmax_exp<T>(p[off + j * st] - m)) * inv);
      } else {
        const T lse = m + static_cast<T>(std::log(s));
        for (int64_t j = 0; j < n; ++j) q[off + j * st] = p[off + j * st] - lse;
      }
    };
    const Shape& sh = xc.shape();
    if (axis == sh.rank() - 1) {
      const int64_t n = sh[axis], rows = n == 0 ? 0 : sh.numel() / n;
      constexpr int64_t kChunk = 16;  // rows per task
      const int64_t chunks = (rows + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (rows * n >= (int64_t{1} << 16)) num_threads(num_threads())
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t r0 = c * kChunk, r1 = std::min(rows, r0 + kChunk);
        if constexpr (std::is_same_v<T, float>)
          kernels::softmax_rows(p + r0 * n, q + r0 * n, r1 - r0, n, kind == Kind::log_softmax);
        else
          for (int64_t r = r0; r < r1; ++r) row(r * n, 1, n);
      }
    } else {
      for_each_row(sh, axis, row);
    }
  });
  return y;
}

// softmax:     dx_j = y_j (g_j - sum_k g_k y_k)
// log_softmax: dx_j = g_j - exp(y_j) sum_k g_k
// A row of all -inf (y = 0, resp. -inf) gets dx = 0.
Tensor softmax_backward(const Tensor& y, const Tensor& g, int axis, Kind kind) {
  const Tensor gc = g.contiguous();
  Tensor dx = Tensor::empty(y.shape(), y.dtype());
  dispatch_dtype(y.dtype(), [&]<typename T>() {
    const T* py = y.data<T>();
    const T* pg = gc.data<T>();
    T* pd = dx.data<T>();
    for_each_row(y.shape(), axis, [&](int64_t off, int64_t st, int64_t n) {
      if (kind == Kind::softmax) {
        double dot = 0.0;
        for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(pg[off + j * st]) * py[off + j * st];
        for (int64_t j = 0; j < n; ++j)
          pd[off + j * st] = static_cast<T>(py[off + j * st] * (pg[off + j * st] - dot));
        return;
      }
      if (n > 0 && py[off] == -std::numeric_limits<T>::infinity() &&
          py[off + (n - 1) * st] == -std::numeric_limits<T>::infinity()) {
        bool all = true;
        for (int64_t j = 0; j < n && all; ++j) all = py[off + j * st] == -std::numeric_limits<T>::infinity();
        if (all) {
          for (int64_t j = 0; j < n; ++j) pd[off + j * st] = T(0);
          return;
        }
      }
      double gs = 0.0;
      for (int64_t j = 0; j < n; ++j) gs += pg[off + j * st];
      const T gst = static_cast<T>(gs);
      for (int64_t j = 0; j < n; ++j) pd[off + j * st] = pg[off + j * st] - detail::softmax_exp<T>(py[off + j * st]) * gst;
    });
  });
  return dx;
}

Tensor softmax_op(const Tensor& x, int axis, Kind kind, const char* name) {
  const int ax = normalize_axis(axis, x.shape(), name);
  Tensor y = softmax_forward(x, ax, kind);
  record(name, {x}, y, [y0 = y.detach(), ax, kind](const Grads& g) -> Grads {
    return {softmax_backward(y0, g[0], ax, kind)};
  });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) { return softmax_op(x, axis, Kind::softmax, "softmax"); }
Tensor log_softmax(const Tensor& x, int axis) { return softmax_op(x, axis, Kind::log_softmax, "log_softmax"); }

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  ATTEND_CHECK(broadcast_shapes(x.shape(), mask.shape(), "masked_fill") == x.shape(), "masked_fill", "mask ",
               mask.shape().str(), " does not broadcast to the input ", x.shape().str());
  const Tensor m = mask.to(x.dtype());
  Tensor out = detail::map2("masked_fill", x, m, [value](auto v, auto k) {
    return k != 0 ? static_cast<decltype(v)>(value) : v;
  });
  // No gradient reaches the filled positions.
  record("masked_fill", {x}, out, [m](const Grads& g) -> Grads {
    return {detail::map2("masked_fill", g[0], m, [](auto v, auto k) { return k != 0 ? decltype(v)(0) : v; })};
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  ATTEND_CHECK(a.dtype() == b.dtype(), "where", "dtypes differ: a ", a.str(), " vs b ", b.str());
  const Tensor c = cond.to(a.dtype());
  Tensor out = detail::map3("where", c, a, b, [](auto k, auto x, auto y) { return k != 0 ? x : y; });
  record("where", {a, b}, out, [c, sa = a.shape(), sb = b.shape()](const Grads& g) -> Grads {
    const Tensor zero = Tensor::zeros(Shape{}, g[0].dtype());
    return {sum_to(detail::map3("where", c, g[0], zero, [](auto k, auto x, auto y) { return k != 0 ? x : y; }), sa),
            sum_to(detail::map3("where", c, zero, g[0], [](auto k, auto x, auto y) { return k != 0 ? x : y; }), sb)};
  });
  return out;
}

}  // namespace attend
