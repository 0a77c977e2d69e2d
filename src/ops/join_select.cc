// Joining and selection: concat, stack, index_select, gather. All four copy (never views).
// Forward copies through strided views of the output (Tensor::as_strided + copy_into); backward
// routes each gradient element back to the input element it came from.
#include <string>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/ops/shape_ops.h"

namespace attend {
namespace {

// The view of `t` restricted to [start, start + len) along `axis` (no autograd).
Tensor narrow_view(const Tensor& t, int axis, int64_t start, int64_t len) {
  Shape shape = t.shape();
  shape[axis] = len;
  return t.as_strided(shape, t.strides(), t.offset() + start * t.strides()[axis]);
}

std::string shapes_str(const std::vector<Tensor>& xs) {
  std::string s;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i) s += ", ";
    s += xs[i].shape().str();
  }
  return s;
}

}  // namespace

// out = [x0 | x1 | ...] along `axis`; out.shape[axis] = sum_i xi.shape[axis].
// Backward: each input's gradient is the slice of g it occupied, dxi = g[..., off_i : off_i + n_i, ...].
Tensor concat(const std::vector<Tensor>& xs, int axis) {
  ATTEND_CHECK(!xs.empty(), "concat", "needs at least one tensor");
  const Tensor& x0 = xs.front();
  const int a = normalize_axis(axis, x0.shape(), "concat");
  Shape out_shape = x0.shape();  // [..., sum_i n_i, ...]
  std::vector<int64_t> offsets{0};
  for (size_t i = 1; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    ATTEND_CHECK(x.dtype() == x0.dtype(), "concat", "dtypes differ: ", x0.str(), " vs ", x.str());
    bool ok = x.dim() == x0.dim();
    for (int d = 0; ok && d < x0.dim(); ++d) ok = d == a || x.shape()[d] == x0.shape()[d];
    ATTEND_CHECK(ok, "concat", "shapes differ outside axis ", axis, ": ", shapes_str(xs));
  }
  int64_t total = x0.shape()[a];
  for (size_t i = 1; i < xs.size(); ++i) {
    offsets.push_back(total);
    total += xs[i].shape()[a];
  }
  out_shape[a] = total;
  Tensor out = Tensor::empty(out_shape, x0.dtype());
  for (size_t i = 0; i < xs.size(); ++i) {
    Tensor dst = narrow_view(out, a, offsets[i], xs[i].shape()[a]);
    copy_into(dst, xs[i]);
  }
  std::vector<int64_t> lens;
  for (const Tensor& x : xs) lens.push_back(x.shape()[a]);
  autograd::record("concat", xs, out, [a, offsets, lens](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    std::vector<Tensor> grads;
    for (size_t i = 0; i < offsets.size(); ++i) grads.push_back(narrow_view(g[0], a, offsets[i], lens[i]).clone());
    return grads;
  });
  return out;
}

// stack(xs, axis) = concat(unsqueeze(xi, axis) for each i, axis); the gradient follows from the two.
Tensor stack(const std::vector<Tensor>& xs, int axis) {
  ATTEND_CHECK(!xs.empty(), "stack", "needs at least one tensor");
  const int a = normalize_axis(axis, xs.front().shape(), "stack", 1);
  std::vector<Tensor> parts;
  for (const Tensor& x : xs) {
    ATTEND_CHECK(x.shape() == xs.front().shape(), "stack", "all shapes must match: ", shapes_str(xs));
    parts.push_back(unsqueeze(x, a));  // [..., 1, ...]
  }
  return concat(parts, a);
}

// out[..., j, ...] = x[..., index[j], ...] along `axis`.
// Backward: dx[..., index[j], ...] += g[..., j, ...] (repeated indices accumulate).
Tensor index_select(const Tensor& x, int axis, const Index& index) {
  const int a = normalize_axis(axis, x.shape(), "index_select");
  ATTEND_CHECK(index.shape.rank() == 1, "index_select", "index must be 1-D, got shape ", index.shape.str(),
               " for x ", x.shape().str());
  const int64_t n = x.shape()[a];
  for (int64_t id : index.data)
    ATTEND_CHECK(id >= 0 && id < n, "index_select", "index ", id, " out of range [0, ", n, ") for axis ", a,
                 " of x ", x.shape().str());
  Shape out_shape = x.shape();
  out_shape[a] = index.numel();  // [..., len(index), ...]
  Tensor out = Tensor::empty(out_shape, x.dtype());
  for (int64_t j = 0; j < index.numel(); ++j) {
    Tensor dst = narrow_view(out, a, j, 1);
    copy_into(dst, narrow_view(x, a, index.data[static_cast<size_t>(j)], 1));
  }
  const Shape x_shape = x.shape();
  const DType dt = x.dtype();
  autograd::record("index_select", {x}, out,
                   [a, index, x_shape, dt](const std::vector<Tensor>& g) -> std::vector<Tensor> {
                     Tensor dx = Tensor::zeros(x_shape, dt);
                     for (int64_t j = 0; j < index.numel(); ++j) {
                       Tensor dst = narrow_view(dx, a, index.data[static_cast<size_t>(j)], 1);
                       add_inplace(dst, narrow_view(g[0], a, j, 1));
                     }
                     return {dx};
                   });
  return out;
}

namespace {

// Calls f(x_offset, flat) for every element of `index` (row-major, flat = its position), where
// x_offset is the element offset in a tensor with `strides` of the position with the index entry
// substituted along `axis`.
template <typename F>
void for_each_gather(const Index& index, const Shape& strides, int axis, F&& f) {
  const Shape& s = index.shape;
  const int r = s.rank();
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  for (int64_t flat = 0; flat < index.numel(); ++flat) {
    int64_t off = 0;
    for (int d = 0; d < r; ++d)
      off += (d == axis ? index.data[static_cast<size_t>(flat)] : idx[static_cast<size_t>(d)]) * strides[d];
    f(off, flat);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < s[d]) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
}

}  // namespace

// PyTorch's gather: out[p] = x[p with p[axis] replaced by index[p]]; out has index's shape.
// Backward (scatter-add): dx[p with p[axis] = index[p]] += g[p].
Tensor gather(const Tensor& x, int axis, const Index& index) {
  const int a = normalize_axis(axis, x.shape(), "gather");
  ATTEND_CHECK(index.shape.rank() == x.dim(), "gather", "index shape ", index.shape.str(),
               " must have the rank of x ", x.shape().str());
  for (int d = 0; d < x.dim(); ++d)
    ATTEND_CHECK(d == a || index.shape[d] <= x.shape()[d], "gather", "index shape ", index.shape.str(),
                 " exceeds x ", x.shape().str(), " in dim ", d);
  const int64_t n = x.shape()[a];
  for (int64_t id : index.data)
    ATTEND_CHECK(id >= 0 && id < n, "gather", "index ", id, " out of range [0, ", n, ") for axis ", a, " of x ",
                 x.shape().str());
  Tensor out = Tensor::empty(index.shape, x.dtype());  // index's shape
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_gather(index, x.strides(), a, [&](int64_t off, int64_t flat) { po[flat] = px[off]; });
  });
  const Shape x_shape = x.shape();
  const DType dt = x.dtype();
  autograd::record("gather", {x}, out, [a, index, x_shape, dt](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    Tensor dx = Tensor::zeros(x_shape, dt);
    const Tensor go = g[0].contiguous();
    dispatch_dtype(dt, [&]<typename T>() {
      T* pd = dx.data<T>();
      const T* pg = go.data<T>();
      for_each_gather(index, dx.strides(), a, [&](int64_t off, int64_t flat) { pd[off] += pg[flat]; });
    });
    return {dx};
  });
  return out;
}

}  // namespace attend
