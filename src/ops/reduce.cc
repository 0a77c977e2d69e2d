#include "attend/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attend/autograd/autograd.h"
#include "attend/core/strided.h"
#include "attend/ops/elementwise.h"
#include "attend/ops/shape_ops.h"

namespace attend {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

// Which axes to reduce (sorted, unique); an empty list means all of them.
std::vector<bool> reduced_axes(const Tensor& x, const std::vector<int>& axes, const char* op) {
  std::vector<bool> r(static_cast<size_t>(x.dim()), axes.empty());
  for (int a : axes) {
    const int n = normalize_axis(a, x.shape(), op);
    ATTEND_CHECK(!r[static_cast<size_t>(n)] || axes.empty(), op, "axis ", a, " given twice for ", x.str());
    r[static_cast<size_t>(n)] = true;
  }
  return r;
}

Shape keepdim_shape(const Shape& s, const std::vector<bool>& r) {
  Shape k = s;
  for (int i = 0; i < s.rank(); ++i)
    if (r[static_cast<size_t>(i)]) k[i] = 1;
  return k;
}

Shape squeezed_shape(const Shape& s, const std::vector<bool>& r) {
  Shape k;
  for (int i = 0; i < s.rank(); ++i)
    if (!r[static_cast<size_t>(i)]) k.push_back(s[i]);
  return k;
}

// Sum over the axes flagged in r, accumulating in double; the result has the keepdim shape.
Tensor raw_sum(const Tensor& x, const std::vector<bool>& r) {
  const Shape ks = keepdim_shape(x.shape(), r);
  std::vector<double> acc(static_cast<size_t>(ks.numel()), 0.0);
  Shape out_strides = contiguous_strides(ks);
  for (int i = 0; i < ks.rank(); ++i)
    if (r[static_cast<size_t>(i)]) out_strides[i] = 0;
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    const T* p = x.data<T>();
    for_each_offset<2>(x.shape(), {x.strides(), out_strides},
                       [&](int64_t ox, int64_t oo) { acc[static_cast<size_t>(oo)] += static_cast<double>(p[ox]); });
  });
  return Tensor::from_vector(acc, ks, x.dtype());
}

// x viewed as [outer, n, inner] around `axis` (x must be contiguous).
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisView axis_view(const Shape& s, int axis) {
  AxisView v;
  for (int i = 0; i < axis; ++i) v.outer *= s[i];
  v.n = s[axis];
  for (int i = axis + 1; i < s.rank(); ++i) v.inner *= s[i];
  return v;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  const std::vector<bool> r = reduced_axes(x, axes, "sum");
  Tensor out = raw_sum(x, r);
  if (!keepdim) out = out.as_strided(squeezed_shape(x.shape(), r), contiguous_strides(squeezed_shape(x.shape(), r)), 0);
  // d(sum)/dx = 1 everywhere: the gradient is broadcast back over the reduced axes.
  record("sum", {x}, out, [xs = x.shape(), ks = keepdim_shape(x.shape(), r)](const Grads& g) -> Grads {
    return {contiguous(expand(reshape(g[0], ks.vec()), xs))};
  });
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  const std::vector<bool> r = reduced_axes(x, axes, "mean");
  int64_t count = 1;
  for (int i = 0; i < x.dim(); ++i)
    if (r[static_cast<size_t>(i)]) count *= x.shape()[i];
  ATTEND_CHECK(count > 0, "mean", "mean over an empty set of elements of ", x.str());
  return mul(sum(x, axes, keepdim), 1.0 / static_cast<double>(count));
}

Tensor max(const Tensor& x, int axis, bool keepdim) {
  const int ax = normalize_axis(axis, x.shape(), "max");
  ATTEND_CHECK(x.shape()[ax] > 0, "max", "max over an empty axis ", axis, " of ", x.str());
  const Tensor xc = x.contiguous();
  const AxisView v = axis_view(xc.shape(), ax);
  Shape ks = xc.shape();
  ks[ax] = 1;
  Tensor out = Tensor::empty(ks, x.dtype());
  auto arg = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(v.outer * v.inner));
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    const T* p = xc.data<T>();
    T* q = out.data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.inner; ++i) {
        const T* row = p + o * v.n * v.inner + i;
        int64_t best = 0;
        for (int64_t j = 1; j < v.n; ++j)
          if (row[j * v.inner] > row[best * v.inner] || (std::isnan(row[j * v.inner]) && !std::isnan(row[best * v.inner])))
            best = j;
        q[o * v.inner + i] = row[best * v.inner];
        (*arg)[static_cast<size_t>(o * v.inner + i)] = best;
      }
  });
  if (!keepdim) {
    Shape s = ks;
    s.erase(ax);
    out = out.as_strided(s, contiguous_strides(s), 0);
  }
  // The gradient goes to the first position attaining the maximum.
  record("max", {x}, out, [xs = x.shape(), v, arg](const Grads& g) -> Grads {
    const Tensor gc = g[0].contiguous();
    Tensor dx = Tensor::zeros(xs, gc.dtype());
    dispatch_dtype(gc.dtype(), [&]<typename T>() {
      const T* pg = gc.data<T>();
      T* pd = dx.data<T>();
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t i = 0; i < v.inner; ++i) {
          const int64_t k = o * v.inner + i;
          pd[o * v.n * v.inner + (*arg)[static_cast<size_t>(k)] * v.inner + i] = pg[k];
        }
    });
    return {dx};
  });
  return out;
}

Index argmax(const Tensor& x, int axis) {
  const int ax = normalize_axis(axis, x.shape(), "argmax");
  ATTEND_CHECK(x.shape()[ax] > 0, "argmax", "argmax over an empty axis ", axis, " of ", x.str());
  const Tensor xc = x.contiguous();
  const AxisView v = axis_view(xc.shape(), ax);
  Shape s = xc.shape();
  s.erase(ax);
  std::vector<int64_t> idx(static_cast<size_t>(v.outer * v.inner));
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    const T* p = xc.data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.inner; ++i) {
        const T* row = p + o * v.n * v.inner + i;
        int64_t best = 0;
        for (int64_t j = 1; j < v.n; ++j)
          if (row[j * v.inner] > row[best * v.inner]) best = j;
        idx[static_cast<size_t>(o * v.inner + i)] = best;
      }
  });
  return Index(std::move(idx), s);
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int lead = grad.dim() - shape.rank();
  ATTEND_CHECK(lead >= 0, "sum_to", "cannot sum ", grad.str(), " down to ", shape.str());
  std::vector<int> axes;
  for (int i = 0; i < grad.dim(); ++i) {
    const int j = i - lead;
    if (j < 0) {
      axes.push_back(i);
    } else if (shape[j] == 1 && grad.shape()[i] != 1) {
      axes.push_back(i);
    } else {
      ATTEND_CHECK(shape[j] == grad.shape()[i], "sum_to", "cannot sum ", grad.str(), " down to ", shape.str());
    }
  }
  if (axes.empty()) return reshape(grad, shape.vec());
  return reshape(sum(grad, axes, true), shape.vec());
}

}  // namespace attend
