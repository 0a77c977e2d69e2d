// Layer normalization (Ba et al. 2016) over the last `normalized_dims` dims, as PyTorch computes it:
//   mean = (1/N) sum_j x_j,  var = (1/N) sum_j (x_j - mean)^2 (biased),  rstd = 1 / sqrt(var + eps)
//   xhat = (x - mean) * rstd,  y = xhat * weight + bias
// where N is the number of normalized elements. Float tensors go through the per-instruction-set
// kernel (kernels::layer_norm_rows: float lanes combined in double), their rows over the threads;
// float64 accumulates in f64 throughout (the reference).
#include <algorithm>
#include <cmath>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/core/threads.h"
#include "attend/kernels/flash_attention.h"
#include "attend/ops/nn_ops.h"

namespace attend {

Tensor layer_norm(const Tensor& x, int normalized_dims, const Tensor& weight, const Tensor& bias, double eps) {
  ATTEND_CHECK(normalized_dims >= 1 && normalized_dims <= x.dim(), "layer_norm", "normalized_dims ", normalized_dims,
               " must be in [1, ", x.dim(), "] for x ", x.shape().str());
  Shape norm_shape;  // the trailing normalized_dims dims of x
  for (int d = x.dim() - normalized_dims; d < x.dim(); ++d) norm_shape.push_back(x.shape()[d]);
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    ATTEND_CHECK(p->shape() == norm_shape, "layer_norm", p == &weight ? "weight " : "bias ", p->shape().str(),
                 " must have the normalized shape ", norm_shape.str(), " of x ", x.shape().str());
    ATTEND_CHECK(p->dtype() == x.dtype(), "layer_norm", "dtype of ", p == &weight ? "weight " : "bias ", p->str(),
                 " differs from x ", x.str());
  }
  ATTEND_CHECK(eps >= 0.0, "layer_norm", "eps ", eps, " must be >= 0");
  const int64_t N = norm_shape.numel();
  const int64_t rows = N == 0 ? 0 : x.numel() / N;
  const DType dt = x.dtype();

  const Tensor xc = x.contiguous();                  // [rows, N]
  const Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = Tensor::empty(x.shape(), dt);        // x's shape
  Tensor xhat = Tensor::empty(x.shape(), dt);       // saved for backward
  Tensor rstd = Tensor::empty(Shape{rows}, DType::f64);  // [rows]
  // Row blocks: a function of the shape only (the backward's per-block sums are then the same for
  // any thread count), spread over the threads.
  const int blocks = static_cast<int>(std::clamp<int64_t>(rows * N / 32768, 1, 8));
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), blocks));
  if (dt == DType::f32) {
    const float* px = xc.data<float>();
    const float* pw = w.defined() ? w.data<float>() : nullptr;
    const float* pb = b.defined() ? b.data<float>() : nullptr;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int k = 0; k < blocks; ++k) {
      const int64_t r0 = rows * k / blocks, r1 = rows * (k + 1) / blocks;
      kernels::layer_norm_rows(px + r0 * N, pw, pb, out.data<float>() + r0 * N, xhat.data<float>() + r0 * N,
                               rstd.data<double>() + r0, r1 - r0, N, eps);
    }
  } else dispatch_dtype(dt, [&]<typename T>() {
    const T* px = xc.data<T>();
    const T* pw = w.defined() ? w.data<T>() : nullptr;
    const T* pb = b.defined() ? b.data<T>() : nullptr;
    T* po = out.data<T>();
    T* ph = xhat.data<T>();
    double* pr = rstd.data<double>();
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = px + r * N;
      double mean = 0.0;
      for (int64_t j = 0; j < N; ++j) mean += static_cast<double>(xr[j]);
      mean /= static_cast<double>(N);
      double var = 0.0;
      for (int64_t j = 0; j < N; ++j) {
        const double d = static_cast<double>(xr[j]) - mean;
        var += d * d;
      }
      var /= static_cast<double>(N);
      const double rs = 1.0 / std::sqrt(var + eps);
      pr[r] = rs;
      for (int64_t j = 0; j < N; ++j) {
        const double h = (static_cast<double>(xr[j]) - mean) * rs;
        ph[r * N + j] = static_cast<T>(h);
        double y = pw ? h * static_cast<double>(pw[j]) : h;
        if (pb) y += static_cast<double>(pb[j]);
        po[r * N + j] = static_cast<T>(y);
      }
    }
  });

  // Backward, per row with gh_j = g_j * w_j (g_j without weight):
  //   dxhat_j/dx_k = rstd * (delta_jk - 1/N - xhat_j xhat_k / N)
  //   => dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))
  //   dweight = sum over rows g * xhat,  dbias = sum over rows g.
  autograd::record("layer_norm", {x, weight, bias}, out,
                   [xhat, rstd, w, has_b = bias.defined(), N, rows, norm_shape, blocks, threads,
                    x_shape = x.shape(), dt](const std::vector<Tensor>& g) -> std::vector<Tensor> {
                     const Tensor gc = g[0].contiguous();
                     Tensor dx = Tensor::empty(x_shape, dt);
                     Tensor dw = w.defined() ? Tensor::zeros(norm_shape, dt) : Tensor();
                     Tensor db = has_b ? Tensor::zeros(norm_shape, dt) : Tensor();
                     if (dt == DType::f32) {  // row blocks over the threads, each with its own sums
                       std::vector<std::vector<double>> dwa(static_cast<size_t>(blocks)), dba(dwa);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
                       for (int k = 0; k < blocks; ++k) {
                         const int64_t r0 = rows * k / blocks, r1 = rows * (k + 1) / blocks;
                         auto& sw = dwa[static_cast<size_t>(k)];
                         auto& sb = dba[static_cast<size_t>(k)];
                         if (w.defined()) sw.assign(static_cast<size_t>(N), 0.0);
                         if (has_b) sb.assign(static_cast<size_t>(N), 0.0);
                         kernels::layer_norm_backward_rows(gc.data<float>() + r0 * N, xhat.data<float>() + r0 * N,
                                                           w.defined() ? w.data<float>() : nullptr,
                                                           rstd.data<double>() + r0, dx.data<float>() + r0 * N,
                                                           w.defined() ? sw.data() : nullptr,
                                                           has_b ? sb.data() : nullptr, r1 - r0, N);
                       }
                       for (int64_t j = 0; j < N; ++j) {
                         double sw = 0.0, sb = 0.0;
                         for (int k = 0; k < blocks; ++k) {
                           if (w.defined()) sw += dwa[static_cast<size_t>(k)][static_cast<size_t>(j)];
                           if (has_b) sb += dba[static_cast<size_t>(k)][static_cast<size_t>(j)];
                         }
                         if (w.defined()) dw.data<float>()[j] = static_cast<float>(sw);
                         if (has_b) db.data<float>()[j] = static_cast<float>(sb);
                       }
                       return {dx, dw, db};
                     }
                     dispatch_dtype(dt, [&]<typename T>() {
                       const T* pg = gc.data<T>();
                       const T* ph = xhat.data<T>();
                       const T* pw = w.defined() ? w.data<T>() : nullptr;
                       const double* pr = rstd.data<double>();
                       T* pdx = dx.data<T>();
                       std::vector<double> dwa(static_cast<size_t>(pw ? N : 0), 0.0);
                       std::vector<double> dba(static_cast<size_t>(has_b ? N : 0), 0.0);
                       for (int64_t r = 0; r < rows; ++r) {
                         const T* gr = pg + r * N;
                         const T* hr = ph + r * N;
                         double m_gh = 0.0, m_ghh = 0.0;
                         for (int64_t j = 0; j < N; ++j) {
                           const double gh = pw ? static_cast<double>(gr[j]) * static_cast<double>(pw[j])
                                                : static_cast<double>(gr[j]);
                           m_gh += gh;
                           m_ghh += gh * static_cast<double>(hr[j]);
                           if (pw) dwa[static_cast<size_t>(j)] += static_cast<double>(gr[j]) * static_cast<double>(hr[j]);
                           if (has_b) dba[static_cast<size_t>(j)] += static_cast<double>(gr[j]);
                         }
                         m_gh /= static_cast<double>(N);
                         m_ghh /= static_cast<double>(N);
                         for (int64_t j = 0; j < N; ++j) {
                           const double gh = pw ? static_cast<double>(gr[j]) * static_cast<double>(pw[j])
                                                : static_cast<double>(gr[j]);
                           pdx[r * N + j] = static_cast<T>(pr[r] * (gh - m_gh - static_cast<double>(hr[j]) * m_ghh));
                         }
                       }
                       for (int64_t j = 0; j < (pw ? N : 0); ++j) dw.data<T>()[j] = static_cast<T>(dwa[static_cast<size_t>(j)]);
                       for (int64_t j = 0; j < (has_b ? N : 0); ++j) db.data<T>()[j] = static_cast<T>(dba[static_cast<size_t>(j)]);
                     });
                     return {dx, dw, db};
                   });
  return out;
}

}  // namespace attend
