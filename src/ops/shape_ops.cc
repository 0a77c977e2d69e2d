// Views: reshape, permute, transpose, slice, expand, squeeze, unsqueeze (+ contiguous, to_dtype).
// Each backward maps the gradient back through the inverse layout change.
#include "attend/ops/shape_ops.h"

#include <algorithm>

#include "attend/autograd/autograd.h"
#include "attend/ops/reduce.h"

namespace attend {

using autograd::record;
using Grads = std::vector<Tensor>;

Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape) {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      ATTEND_CHECK(infer < 0, "reshape", "more than one -1 in the target shape for ", x.str());
      infer = static_cast<int>(i);
    } else {
      ATTEND_CHECK(shape[i] >= 0, "reshape", "negative extent ", shape[i], " in the target shape for ", x.str());
      known *= shape[i];
    }
  }
  std::vector<int64_t> dims = shape;
  if (infer >= 0) {
    ATTEND_CHECK(known > 0 && x.numel() % known == 0, "reshape", "cannot infer -1: ", x.str(), " has ", x.numel(),
                 " elements");
    dims[static_cast<size_t>(infer)] = x.numel() / known;
  }
  ATTEND_CHECK(static_cast<int>(dims.size()) <= kMaxRank, "reshape", "target rank ", dims.size(), " above ",
               kMaxRank);
  const Shape s(dims);
  ATTEND_CHECK(s.numel() == x.numel(), "reshape", "cannot reshape ", x.str(), " (", x.numel(), " elements) to ",
               s.str(), " (", s.numel(), " elements)");
  if (s == x.shape()) return x;
  const Tensor c = x.contiguous();
  Tensor out = c.as_strided(s, contiguous_strides(s), c.offset());
  record("reshape", {x}, out, [xs = x.shape()](const Grads& g) -> Grads { return {reshape(g[0], xs.vec())}; });
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int>& perm) {
  ATTEND_CHECK(static_cast<int>(perm.size()) == x.dim(), "permute", "permutation of ", perm.size(),
               " axes for ", x.str());
  std::vector<int> p(perm.size()), inverse(perm.size());
  std::vector<bool> seen(perm.size(), false);
  Shape s, st;
  for (size_t i = 0; i < perm.size(); ++i) {
    const int a = normalize_axis(perm[i], x.shape(), "permute");
    ATTEND_CHECK(!seen[static_cast<size_t>(a)], "permute", "axis ", perm[i], " repeated in the permutation for ",
                 x.str());
    seen[static_cast<size_t>(a)] = true;
    p[i] = a;
    inverse[static_cast<size_t>(a)] = static_cast<int>(i);
    s.push_back(x.shape()[a]);
    st.push_back(x.strides()[a]);
  }
  Tensor out = x.as_strided(s, st, x.offset());
  record("permute", {x}, out, [inverse](const Grads& g) -> Grads { return {permute(g[0], inverse)}; });
  return out;
}

Tensor transpose(const Tensor& x, int a, int b) {
  const int na = normalize_axis(a, x.shape(), "transpose"), nb = normalize_axis(b, x.shape(), "transpose");
  std::vector<int> perm(static_cast<size_t>(x.dim()));
  for (int i = 0; i < x.dim(); ++i) perm[static_cast<size_t>(i)] = i;
  std::swap(perm[static_cast<size_t>(na)], perm[static_cast<size_t>(nb)]);
  return permute(x, perm);
}

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end, int64_t step) {
  const int ax = normalize_axis(axis, x.shape(), "slice");
  ATTEND_CHECK(step >= 1, "slice", "step must be >= 1, got ", step, " for ", x.str());
  const int64_t n = x.shape()[ax];
  auto clamp = [n](int64_t v) { return std::clamp(v < 0 ? v + n : v, int64_t{0}, n); };
  const int64_t s0 = clamp(start), e0 = std::max(clamp(end), s0);
  Shape s = x.shape(), st = x.strides();
  s[ax] = (e0 - s0 + step - 1) / step;
  st[ax] = x.strides()[ax] * step;
  Tensor out = x.as_strided(s, st, x.offset() + s0 * x.strides()[ax]);
  // The gradient is zero outside the slice and g inside it.
  record("slice", {x}, out, [xs = x.shape(), ax, s0, step](const Grads& g) -> Grads {
    Tensor dx = Tensor::zeros(xs, g[0].dtype());
    Shape vs = g[0].shape(), vst = dx.strides();
    vst[ax] *= step;
    Tensor window = dx.as_strided(vs, vst, s0 * dx.strides()[ax]);
    copy_into(window, g[0]);
    return {dx};
  });
  return out;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  ATTEND_CHECK(shape.rank() >= x.dim(), "expand", "cannot expand ", x.str(), " to the lower-rank ", shape.str());
  const int lead = shape.rank() - x.dim();
  Shape st = shape;
  for (int i = 0; i < shape.rank(); ++i) {
    const int j = i - lead;
    if (j < 0) {
      st[i] = 0;
    } else if (x.shape()[j] == shape[i]) {
      st[i] = x.strides()[j];
    } else {
      ATTEND_CHECK(x.shape()[j] == 1, "expand", "cannot expand ", x.str(), " to ", shape.str(), " (dim ", i, ")");
      st[i] = 0;
    }
  }
  if (shape == x.shape()) return x;
  Tensor out = x.as_strided(shape, st, x.offset());
  record("expand", {x}, out, [xs = x.shape()](const Grads& g) -> Grads { return {sum_to(g[0], xs)}; });
  return out;
}

Tensor squeeze(const Tensor& x, int axis) {
  const int ax = normalize_axis(axis, x.shape(), "squeeze");
  ATTEND_CHECK(x.shape()[ax] == 1, "squeeze", "axis ", axis, " of ", x.str(), " has extent ", x.shape()[ax],
               ", not 1");
  Shape s = x.shape(), st = x.strides();
  s.erase(ax);
  st.erase(ax);
  Tensor out = x.as_strided(s, st, x.offset());
  record("squeeze", {x}, out, [xs = x.shape()](const Grads& g) -> Grads { return {reshape(g[0], xs.vec())}; });
  return out;
}

Tensor unsqueeze(const Tensor& x, int axis) {
  const int ax = normalize_axis(axis, x.shape(), "unsqueeze", 1);
  Shape s = x.shape(), st = x.strides();
  const int64_t inner = ax < x.dim() ? x.strides()[ax] * x.shape()[ax] : 1;
  s.insert(ax, 1);
  st.insert(ax, inner);
  Tensor out = x.as_strided(s, st, x.offset());
  record("unsqueeze", {x}, out, [xs = x.shape()](const Grads& g) -> Grads { return {reshape(g[0], xs.vec())}; });
  return out;
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = x.clone();
  record("contiguous", {x}, out, [](const Grads& g) -> Grads { return {g[0]}; });
  return out;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = x.to(dtype);
  record("to_dtype", {x}, out, [from = x.dtype()](const Grads& g) -> Grads { return {g[0].to(from)}; });
  return out;
}

}  // namespace attend
