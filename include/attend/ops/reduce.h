// Reductions over axes. `axes` may be negative (counted from the end); an empty list reduces all.
#pragma once

#include <vector>

#include "attend/core/index.h"
#include "attend/core/tensor.h"

namespace attend {

Tensor sum(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
// Maximum over one axis. The gradient flows to the first position that attains the maximum.
Tensor max(const Tensor& x, int axis, bool keepdim = false);
// Position of the first maximum over `axis` (not differentiable).
Index argmax(const Tensor& x, int axis);
// Sums `grad` over the broadcast dimensions so that it has `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace attend
