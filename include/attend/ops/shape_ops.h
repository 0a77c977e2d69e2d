// Differentiable layout ops. reshape, permute, transpose, slice, expand, squeeze and unsqueeze
// return views that share storage when the layout allows it; concat/stack/index_select/gather copy.
#pragma once

#include <vector>

#include "attend/core/index.h"
#include "attend/core/tensor.h"

namespace attend {

// New shape with the same number of elements; one entry may be -1 (inferred). A view when x is
// contiguous, else a copy.
Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape);
Tensor permute(const Tensor& x, const std::vector<int>& perm);
Tensor transpose(const Tensor& x, int a, int b);
// Elements start, start+step, ... < end along `axis` (Python semantics: negative start/end count
// from the end and are clamped to the extent). step >= 1.
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end, int64_t step = 1);
// Broadcast view to `shape` (size-1 dims repeat with stride 0; new leading dims allowed).
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, int axis);
Tensor unsqueeze(const Tensor& x, int axis);
// Row-major copy if x is not row-major already (differentiable identity).
Tensor contiguous(const Tensor& x);
// Differentiable dtype conversion.
Tensor to_dtype(const Tensor& x, DType dtype);

// Joins tensors along an existing axis; all other dims must match.
Tensor concat(const std::vector<Tensor>& xs, int axis);
// Joins tensors along a new axis; all shapes must match.
Tensor stack(const std::vector<Tensor>& xs, int axis);
// out = x selected at `index` (1-D) along `axis`; out.shape[axis] = index.numel().
Tensor index_select(const Tensor& x, int axis, const Index& index);
// PyTorch's gather: out[i][j][k] = x[index[i][j][k]][j][k] for axis 0, etc.; index has x's rank
// and out has index's shape.
Tensor gather(const Tensor& x, int axis, const Index& index);

}  // namespace attend
