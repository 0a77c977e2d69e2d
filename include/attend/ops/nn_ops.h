// The differentiable building blocks of neural networks: normalizations, selection, losses.
#pragma once

#include "attend/core/index.h"
#include "attend/core/rng.h"
#include "attend/core/tensor.h"

namespace attend {

// softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j, along `axis`. A row whose
// entries are all -inf gives all zeros (and zero gradient) instead of NaN.
Tensor softmax(const Tensor& x, int axis);
// x_i - m - log(sum_j exp(x_j - m)). A row of all -inf gives -inf entries and zero gradient.
Tensor log_softmax(const Tensor& x, int axis);

// out = where mask != 0 then value else x. `mask` holds 0/1 and broadcasts to x's shape; no
// gradient flows to the filled positions.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// out = cond != 0 ? a : b, all three broadcast together. Gradients flow to the chosen side.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Normalizes over the last `normalized_dims` dims: (x - mean) / sqrt(var + eps) * weight + bias,
// with the biased variance (as PyTorch). weight/bias have the normalized shape, or are undefined.
Tensor layer_norm(const Tensor& x, int normalized_dims, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);

// Rows of weight [V, C] picked by ids -> [ids.shape..., C]. Ids outside [0, V) are an Error.
// The row `padding_idx` (if >= 0) receives no gradient.
Tensor embedding(const Tensor& weight, const Index& ids, int64_t padding_idx = -1);

// Inverted dropout: keeps each element with probability 1-p and scales it by 1/(1-p). Identity
// when !training or p == 0. The mask comes from `rng`, so it reproduces for a given seed.
Tensor dropout(const Tensor& x, double p, bool training, Rng& rng);

enum class Reduction { none, mean, sum };
struct CrossEntropyOptions {
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::mean;
};
// logits [N, C] and targets [N] (class ids): PyTorch's cross_entropy, including label smoothing
// (target distribution (1-eps) one-hot + eps/C) and ignore_index (those rows count neither in
// the loss nor in the mean's denominator). reduction none gives [N].
Tensor cross_entropy(const Tensor& logits, const Index& targets, const CrossEntropyOptions& opt = {});
// cross_entropy(linear(x, weight, bias), targets, opt) without the [N, V] logits (reduction mean
// or sum): the rows go through in chunks (logits of a chunk, its row losses) and, because the
// gradient of a scalar loss is the upstream gradient times one fixed tensor, the gradients for x,
// weight and bias are accumulated in the same pass and only scaled by backward:
//   dlogits_ic = (softmax(l_i)_c - (1 - eps) [c == t_i] - eps / V) * s,  s = 1 / count (mean) or 1
//   dx = dlogits W,  dW = dlogits^T x,  db = sum_i dlogits_i
// x [N, C], weight [V, C], bias [V] or undefined, targets [N] -> a scalar. The extra memory is a
// chunk of logits (about 16 MiB) and, when a gradient is wanted, the gradients themselves. Errors
// "[linear_cross_entropy] ..." name the shapes.
Tensor linear_cross_entropy(const Tensor& x, const Tensor& weight, const Tensor& bias, const Index& targets,
                            const CrossEntropyOptions& opt = {});
// mean((a - b)^2) (or sum / none).
Tensor mse_loss(const Tensor& a, const Tensor& b, Reduction reduction = Reduction::mean);

}  // namespace attend
