// Float64 naive references for every op in include/attend/ops/*.h (oracle 1 of DESIGN.md).
//
// Each function reads its inputs element by element in row-major order (any dtype, any layout,
// through Tensor::to_vector<double>), computes with plain loops over multi-indices in double, and
// returns a new contiguous f64 tensor. Nothing here calls an attend op: only Tensor as a
// container, so a bug in an op cannot hide in its own reference.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "attend/core/index.h"
#include "attend/core/tensor.h"
#include "attend/ops/conv.h"
#include "attend/ops/elementwise.h"
#include "attend/ops/nn_ops.h"

namespace attend::ref {

// ---- elementwise (NumPy broadcasting, shapes aligned at the right) ----
Tensor binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f);
Tensor unary(const Tensor& x, const std::function<double(double)>& f);
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x, GeluApprox approx);
Tensor pow(const Tensor& x, double p);

// ---- reductions ----
Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim);
Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim);
Tensor max(const Tensor& x, int axis, bool keepdim);
Index argmax(const Tensor& x, int axis);

// ---- layout (all return copies) ----
Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape);
Tensor permute(const Tensor& x, const std::vector<int>& perm);
Tensor transpose(const Tensor& x, int a, int b);
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end, int64_t step);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, int axis);
Tensor unsqueeze(const Tensor& x, int axis);
Tensor concat(const std::vector<Tensor>& xs, int axis);
Tensor stack(const std::vector<Tensor>& xs, int axis);
Tensor index_select(const Tensor& x, int axis, const Index& index);
Tensor gather(const Tensor& x, int axis, const Index& index);

// ---- linear algebra ----
// a [..., M, K] @ b [..., K, N] (batch dims broadcast) or b [K] -> [..., M].
Tensor matmul(const Tensor& a, const Tensor& b);
// x [..., in], w [out, in], bias [out] or undefined -> [..., out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias);

// ---- nn ----
// All -inf rows: softmax gives zeros, log_softmax gives -inf.
Tensor softmax(const Tensor& x, int axis);
Tensor log_softmax(const Tensor& x, int axis);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor layer_norm(const Tensor& x, int normalized_dims, const Tensor& weight, const Tensor& bias, double eps);
Tensor embedding(const Tensor& weight, const Index& ids);
// The documented mask of ops::dropout for a stream (seed, base): element i kept iff
// philox_uniform(seed, base, i) >= float(p); kept elements scaled by 1/(1-p).
Tensor dropout(const Tensor& x, double p, uint64_t seed, uint64_t base);
// PyTorch's definition term by term: loss_i = (1-eps) * (-log p_i[t_i]) + eps/C * sum_c (-log p_i[c]).
Tensor cross_entropy(const Tensor& logits, const Index& targets, const CrossEntropyOptions& opt);
Tensor mse_loss(const Tensor& a, const Tensor& b, Reduction reduction);

// ---- convolution and pooling: the definitions of ops/conv.h, a sum per output element ----
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& opt);
// max: NaN if the window holds one; avg: padding counted in the divisor iff opt.count_pad.
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt);

}  // namespace attend::ref
