// Losses: cross_entropy (PyTorch's, with ignore_index and label smoothing) and mse_loss.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/core/threads.h"
#include "attend/kernels/flash_attention.h"
#include "attend/kernels/gemm.h"
#include "attend/ops/elementwise.h"
#include "attend/ops/nn_ops.h"
#include "attend/ops/reduce.h"
#include "../kernels/fast_math.h"

namespace attend {

// Per row i with target t = t_i, eps = label_smoothing, lse = log sum_c exp(x_ic), and
// -log p_c = lse - x_ic:
//   loss_i = (1 - eps) * (lse - x_it) + eps/C * sum_c (lse - x_ic)
//          = lse - (1 - eps) * x_it - eps/C * sum_c x_ic
// Rows with t_i == ignore_index have loss 0 and are not counted. Reductions: none -> [N],
// sum -> sum_i loss_i, mean -> sum_i loss_i / (number of counted rows).
// All rows ignored with mean gives 0 with zero gradient (PyTorch gives NaN, 0/0).
// Backward: d loss_i / d x_ic = softmax(x_i)_c - (1 - eps) [c == t] - eps/C, times the upstream
// gradient of loss_i (g_i for none, g for sum, g / count for mean).
Tensor cross_entropy(const Tensor& logits, const Index& targets, const CrossEntropyOptions& opt) {
  ATTEND_CHECK(logits.dim() == 2, "cross_entropy", "logits must be [N, C], got ", logits.shape().str());
  const int64_t N = logits.shape()[0], C = logits.shape()[1];
  ATTEND_CHECK(targets.shape.rank() == 1 && targets.numel() == N, "cross_entropy", "targets shape ",
               targets.shape.str(), " must be [N] = [", N, "] for logits ", logits.shape().str());
  ATTEND_CHECK(opt.label_smoothing >= 0.0 && opt.label_smoothing <= 1.0, "cross_entropy", "label_smoothing ",
               opt.label_smoothing, " must be in [0, 1]");
  ATTEND_CHECK(C > 0, "cross_entropy", "logits ", logits.shape().str(), " have no classes");
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = targets.data[static_cast<size_t>(i)];
    ATTEND_CHECK(t == opt.ignore_index || (t >= 0 && t < C), "cross_entropy", "target ", t, " at row ", i,
                 " out of range [0, ", C, ") for logits ", logits.shape().str(), " (ignore_index ",
                 opt.ignore_index, ")");
  }
  const double eps = opt.label_smoothing;
  const DType dt = logits.dtype();
  const Tensor x = logits.detach().contiguous();  // [N, C]
  // Softmax rows in the logits' dtype, saved for backward. The exponentials are computed in T
  // (vectorized for float: detail::exp_of) and summed in double.
  Tensor prob = Tensor::empty(Shape{N, C}, dt);
  std::vector<double> loss(static_cast<size_t>(N), 0.0);
  std::vector<bool> counted(static_cast<size_t>(N), false);
  int64_t count = 0;
  dispatch_dtype(dt, [&]<typename T>() {
    const T* px = x.data<T>();
    T* pp = prob.data<T>();
    for (int64_t i = 0; i < N; ++i) {
      const T* xr = px + i * C;
      T* pr = pp + i * C;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t c = 0; c < C; ++c) m = std::max(m, xr[c]);
      for (int64_t c = 0; c < C; ++c) pr[c] = detail::exp_of<T>(xr[c] - m);
      const double s = detail::sum_as_double(pr, C);
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t c = 0; c < C; ++c) pr[c] *= inv;
      const int64_t t = targets.data[static_cast<size_t>(i)];
      if (t == opt.ignore_index) continue;
      const double lse = static_cast<double>(m) + std::log(s);
      double li = lse - (1.0 - eps) * static_cast<double>(xr[t]);
      if (eps != 0.0) li -= eps / static_cast<double>(C) * detail::sum_as_double(xr, C);
      loss[static_cast<size_t>(i)] = li;
      counted[static_cast<size_t>(i)] = true;
      ++count;
    }
  });

  Tensor out;
  if (opt.reduction == Reduction::none) {
    out = Tensor::from_vector(loss, Shape{N}, dt);  // [N]
  } else {
    double total = 0.0;
    for (double l : loss) total += l;
    if (opt.reduction == Reduction::mean) total = count == 0 ? 0.0 : total / static_cast<double>(count);
    out = Tensor::scalar(total, dt);  // []
  }
  const Reduction red = opt.reduction;
  autograd::record("cross_entropy", {logits}, out,
                   [prob, targets, counted, count, eps, red, N, C, dt](const std::vector<Tensor>& g) -> std::vector<Tensor> {
                     const std::vector<double> go = g[0].to_vector<double>();
                     Tensor dx = Tensor::zeros(Shape{N, C}, dt);
                     dispatch_dtype(dt, [&]<typename T>() {
                       const T* pp = prob.data<T>();
                       T* pd = dx.data<T>();
                       for (int64_t i = 0; i < N; ++i) {
                         if (!counted[static_cast<size_t>(i)]) continue;
                         double gi = red == Reduction::none ? go[static_cast<size_t>(i)] : go[0];
                         if (red == Reduction::mean) gi /= static_cast<double>(count);
                         const T a = static_cast<T>(gi), b = static_cast<T>(eps / static_cast<double>(C));
                         const T* pr = pp + i * C;
                         T* dr = pd + i * C;
                         for (int64_t c = 0; c < C; ++c) dr[c] = a * (pr[c] - b);
                         const int64_t t = targets.data[static_cast<size_t>(i)];
                         dr[t] -= static_cast<T>(gi * (1.0 - eps));
                       }
                     });
                     return {dx};
                   });
  return out;
}

Tensor linear_cross_entropy(const Tensor& x, const Tensor& weight, const Tensor& bias, const Index& targets,
                            const CrossEntropyOptions& opt) {
  constexpr const char* op = "linear_cross_entropy";
  ATTEND_CHECK(x.defined() && weight.defined() && x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1), op,
               "x ", x.defined() ? x.shape().str() : "undefined", " must be [N, C] and weight ",
               weight.defined() ? weight.shape().str() : "undefined", " [V, C]");
  const int64_t N = x.size(0), C = x.size(1), V = weight.size(0);
  ATTEND_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == V), op, "bias ", bias.shape().str(),
               " must be [V] = [", V, "]");
  ATTEND_CHECK(x.dtype() == weight.dtype() && (!bias.defined() || bias.dtype() == x.dtype()), op,
               "dtypes differ: x ", x.str(), ", weight ", weight.str());
  ATTEND_CHECK(targets.shape.rank() == 1 && targets.numel() == N, op, "targets ", targets.shape.str(),
               " must be [N] = [", N, "]");
  ATTEND_CHECK(opt.reduction != Reduction::none, op, "reduction none is not supported (it would need the logits)");
  ATTEND_CHECK(opt.label_smoothing >= 0.0 && opt.label_smoothing <= 1.0, op, "label_smoothing ",
               opt.label_smoothing, " must be in [0, 1]");
  int64_t count = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = targets.data[static_cast<size_t>(i)];
    ATTEND_CHECK(t == opt.ignore_index || (t >= 0 && t < V), op, "target ", t, " at row ", i, " out of range [0, ",
                 V, ") (ignore_index ", opt.ignore_index, ")");
    count += t != opt.ignore_index;
  }
  const bool need_grad = grad_enabled() && (x.requires_grad() || weight.requires_grad() ||
                                            (bias.defined() && bias.requires_grad()));
  const double eps = opt.label_smoothing;
  const double scale = opt.reduction == Reduction::mean ? (count == 0 ? 0.0 : 1.0 / static_cast<double>(count)) : 1.0;
  const DType dt = x.dtype();
  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor dx, dw, db;
  if (need_grad) {
    dx = Tensor::empty(Shape{N, C}, dt);
    dw = Tensor::zeros(Shape{V, C}, dt);
    if (bias.defined()) db = Tensor::zeros(Shape{V}, dt);
  }
  // Rows per chunk: about 16 MiB of float logits, so that the GEMMs see a few hundred rows (the
  // weight gradient's inner dimension) whatever V.
  const int64_t R = std::clamp<int64_t>((int64_t{1} << 22) / std::max<int64_t>(V, 1), 16, 2048);
  Tensor chunk = Tensor::empty(Shape{std::min(R, std::max<int64_t>(N, 1)), V}, dt);
  std::vector<double> losses(static_cast<size_t>(N), 0.0);
  dispatch_dtype(dt, [&]<typename T>() {
    const T* px = xc.data<T>();
    const T* pw = wc.data<T>();
    const T* pb = bc.defined() ? bc.data<T>() : nullptr;
    T* pl = chunk.data<T>();
    for (int64_t r0 = 0; r0 < N; r0 += R) {
      const int64_t rows = std::min(R, N - r0);
      kernels::gemm(false, true, rows, V, C, T(1), px + r0 * C, C, pw, C, T(0), pl, V);  // [rows, V]
      if (pb != nullptr)
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t c = 0; c < V; ++c) pl[i * V + c] += pb[c];
      if constexpr (sizeof(T) == sizeof(float)) {  // the per-instruction-set row kernel, rows over the threads
        const int64_t nt = std::min<int64_t>(num_threads(), rows);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && rows * V >= (int64_t{1} << 16))
        for (int64_t k = 0; k < nt; ++k) {
          const int64_t a = rows * k / nt, b = rows * (k + 1) / nt;
          kernels::xent_rows(pl + a * V, b - a, V, targets.data.data() + r0 + a, opt.ignore_index, eps, scale,
                             need_grad, losses.data() + r0 + a);
        }
      } else {
#pragma omp parallel for schedule(static) if (rows * V >= (int64_t{1} << 16)) num_threads(num_threads())
      for (int64_t i = 0; i < rows; ++i) {
        T* l = pl + i * V;
        const int64_t t = targets.data[static_cast<size_t>(r0 + i)];
        if (t == opt.ignore_index) {
          if (need_grad) std::fill(l, l + V, T(0));
          continue;
        }
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t c = 0; c < V; ++c) m = std::max(m, l[c]);
        const double row_sum = eps != 0.0 ? detail::sum_as_double(l, V) : 0.0;
        const T lt = l[t];
        // exp(l - m) into the chunk, summed in double; then the softmax for the gradient.
        for (int64_t c = 0; c < V; ++c) l[c] = detail::exp_of<T>(l[c] - m);
        const double s = detail::sum_as_double(l, V);
        const double lse = static_cast<double>(m) + std::log(s);
        losses[static_cast<size_t>(r0 + i)] =
            lse - (1.0 - eps) * static_cast<double>(lt) - eps / static_cast<double>(V) * row_sum;
        if (!need_grad) continue;
        const T a = static_cast<T>(scale / s), b = static_cast<T>(scale * eps / static_cast<double>(V));
        for (int64_t c = 0; c < V; ++c) l[c] = a * l[c] - b;
        l[t] -= static_cast<T>(scale * (1.0 - eps));
      }
      }
      if (!need_grad) continue;
      kernels::gemm(false, false, rows, C, V, T(1), pl, V, pw, C, T(0), dx.data<T>() + r0 * C, C);  // dx = dl W
      kernels::gemm(true, false, V, C, rows, T(1), pl, V, px + r0 * C, C, T(1), dw.data<T>(), C);   // dW += dl^T x
      if (db.defined()) {
        T* pdb = db.data<T>();
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t c = 0; c < V; ++c) pdb[c] += pl[i * V + c];
      }
    }
  });
  double total = 0.0;
  for (const double l : losses) total += l;
  Tensor out = Tensor::scalar(total * scale, dt);  // []
  if (!need_grad) return out;
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  autograd::record(op, inputs, out, [dx, dw, db](const std::vector<Tensor>& g) -> std::vector<Tensor> {
    const double go = g[0].item();  // d(out): the precomputed gradients scale by it (1 for a loss)
    auto scaled = [go](const Tensor& t) { return go == 1.0 ? t : mul(t, go); };
    std::vector<Tensor> grads{scaled(dx), scaled(dw)};
    if (db.defined()) grads.push_back(scaled(db));
    return grads;
  });
  return out;
}

// (a - b)^2 reduced; composed from sub, square, mean/sum, so the gradient follows from theirs:
// d/da = 2 (a - b) * g (/ numel for mean), d/db = -d/da.
Tensor mse_loss(const Tensor& a, const Tensor& b, Reduction reduction) {
  ATTEND_CHECK(a.shape() == b.shape(), "mse_loss", "shapes differ: a ", a.shape().str(), " vs b ",
               b.shape().str());
  const Tensor sq = square(sub(a, b));  // a's shape
  switch (reduction) {
    case Reduction::none: return sq;
    case Reduction::sum: return sum(sq);
    case Reduction::mean: break;
  }
  return mean(sq);
}

}  // namespace attend
