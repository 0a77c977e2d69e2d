// Internal: elementwise maps over broadcast, strided operands into a new contiguous tensor.
// Every elementwise op in src/ops goes through these three templates. Contiguous operands of at
// least kParallelElements elements are split over the threads (each element is computed alone, so
// the result does not depend on the thread count).
#pragma once

#include <algorithm>
#include <array>

#include "attend/core/strided.h"
#include "attend/core/tensor.h"
#include "attend/core/threads.h"

namespace attend::detail {

inline constexpr int64_t kParallelElements = int64_t{1} << 16;

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  ATTEND_CHECK(a.dtype() == b.dtype(), op, "dtypes differ: ", a.str(), " vs ", b.str());
}

// f(begin, end) over [0, n) cut into one block per thread (one block below kParallelElements).
template <typename F>
void parallel_blocks(int64_t n, F&& f) {
  const int64_t blocks = n >= kParallelElements ? std::min<int64_t>(num_threads(), n / 1024 + 1) : 1;
#pragma omp parallel for schedule(static) if (blocks > 1) num_threads(static_cast<int>(blocks))
  for (int64_t k = 0; k < blocks; ++k) f(n * k / blocks, n * (k + 1) / blocks);
}

// out[i] = f(x[i]) for T = x's dtype.
template <typename F>
Tensor map1(const Tensor& x, F&& f) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    const T* p = x.data<T>();
    T* q = out.data<T>();
    if (x.is_contiguous()) {
      const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelElements) num_threads(num_threads())
      for (int64_t i = 0; i < n; ++i) q[i] = f(p[i]);
      return;
    }
    int64_t k = 0;
    for_each_offset<1>(x.shape(), {x.strides()}, [&](int64_t o) { q[k++] = f(p[o]); });
  });
  return out;
}

// out[i] = f(a[i], b[i]) over the broadcast shape of a and b (same dtype).
template <typename F>
Tensor map2(const char* op, const Tensor& a, const Tensor& b, F&& f) {
  check_same_dtype(op, a, b);
  const Shape shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch_dtype(a.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* q = out.data<T>();
    if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
      const int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelElements) num_threads(num_threads())
      for (int64_t i = 0; i < n; ++i) q[i] = f(pa[i], pb[i]);
      return;
    }
    const Shape sa = broadcast_strides(a.shape(), a.strides(), shape);
    const Shape sb = broadcast_strides(b.shape(), b.strides(), shape);
    int64_t k = 0;
    for_each_offset<2>(shape, {sa, sb}, [&](int64_t oa, int64_t ob) { q[k++] = f(pa[oa], pb[ob]); });
  });
  return out;
}

// out[i] = f(a[i], b[i], c[i]) over the broadcast shape of all three (same dtype).
template <typename F>
Tensor map3(const char* op, const Tensor& a, const Tensor& b, const Tensor& c, F&& f) {
  check_same_dtype(op, a, b);
  check_same_dtype(op, a, c);
  const Shape shape = broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), op), c.shape(), op);
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch_dtype(a.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const T* pc = c.data<T>();
    T* q = out.data<T>();
    const Shape sa = broadcast_strides(a.shape(), a.strides(), shape);
    const Shape sb = broadcast_strides(b.shape(), b.strides(), shape);
    const Shape sc = broadcast_strides(c.shape(), c.strides(), shape);
    int64_t k = 0;
    for_each_offset<3>(shape, {sa, sb, sc},
                       [&](int64_t oa, int64_t ob, int64_t oc) { q[k++] = f(pa[oa], pb[ob], pc[oc]); });
  });
  return out;
}

}  // namespace attend::detail
