// Convolution and pooling over images [N, C, H, W] (row-major, as PyTorch's Conv2d and pooling),
// differentiable, f32 and f64.
//   conv2d:      y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[n, c, i sh - ph + u dh, j sw - pw + v dw]
//                (x read as 0 outside the image), y: [N, O, Ho, Wo],
//                Ho = (H + 2 ph - dh (kh - 1) - 1) / sh + 1, Wo likewise.
//   max_pool2d:  y = the largest x of each window (padding reads as -inf, as PyTorch's); the
//                gradient goes to the first maximal element of the window in row-major order.
//   avg_pool2d:  y = the mean of each window; padding counts as zeros and as window elements
//                (PyTorch's count_include_pad = true) unless count_pad is false.
// Errors ("[conv2d] ...", "[max_pool2d] ...") name the shapes: an input that is not 4-d, channels
// that differ from the weight's, a window larger than the padded image, a stride or dilation < 1,
// a padding below 0 (or, for pooling, above half the window, PyTorch's rule).
#pragma once

#include <cstdint>

#include "attend/core/tensor.h"

namespace attend {

struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
};

// x [N, C, H, W], weight [O, C, kh, kw], bias [O] or undefined -> [N, O, Ho, Wo]. Each image is
// unfolded (im2col: [C kh kw, Ho Wo]) and multiplied by the weight as one GEMM; the backward
// multiplies the output gradient by the unfolded image (dW) and by the weight (then folds back, dX).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Conv2dOptions& opt = {});

struct Pool2dOptions {
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 0, stride_w = 0;  // 0: the kernel size (PyTorch's default)
  int64_t pad_h = 0, pad_w = 0;
  bool count_pad = true;  // avg_pool2d only: padding counts in the divisor
};

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt = {});
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt = {});

}  // namespace attend
