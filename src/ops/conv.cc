#include "attend/ops/conv.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "attend/autograd/autograd.h"
#include "attend/core/error.h"
#include "attend/core/threads.h"
#include "attend/kernels/gemm.h"

namespace attend {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

// One spatial axis of a window op: input size, kernel, stride, padding, dilation -> output size.
int64_t out_size(const char* op, const char* axis, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d,
                 const Shape& xs) {
  ATTEND_CHECK(k >= 1 && s >= 1 && d >= 1 && p >= 0, op, "kernel ", k, ", stride ", s, ", dilation ", d,
               " must be >= 1 and padding ", p, " >= 0 along ", axis, " (input ", xs.str(), ")");
  const int64_t span = d * (k - 1) + 1;
  ATTEND_CHECK(in + 2 * p >= span, op, "the window spans ", span, " along ", axis, ", more than the padded input (",
               in, " + 2 x ", p, ") of ", xs.str());
  return (in + 2 * p - span) / s + 1;
}

struct Geometry {
  int64_t N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo;
  int64_t rows() const { return C * kh * kw; }  // im2col rows
  int64_t cols() const { return Ho * Wo; }
};

// cols[(c kh + u) kw + v][i Wo + j] = x[c, i sh - ph + u dh, j sw - pw + v dw] (0 outside).
template <typename T>
void im2col(const Geometry& g, const T* x, T* cols) {
#pragma omp parallel for schedule(static) if (g.rows() * g.cols() >= (int64_t{1} << 16)) num_threads(num_threads())
  for (int64_t r = 0; r < g.rows(); ++r) {
    const int64_t c = r / (g.kh * g.kw), u = r / g.kw % g.kh, v = r % g.kw;
    T* out = cols + r * g.cols();
    for (int64_t i = 0; i < g.Ho; ++i) {
      const int64_t y = i * g.sh - g.ph + u * g.dh;
      T* o = out + i * g.Wo;
      if (y < 0 || y >= g.H) {
        std::fill(o, o + g.Wo, T(0));
        continue;
      }
      const T* row = x + (c * g.H + y) * g.W;
      for (int64_t j = 0; j < g.Wo; ++j) {
        const int64_t xx = j * g.sw - g.pw + v * g.dw;
        o[j] = xx >= 0 && xx < g.W ? row[xx] : T(0);
      }
    }
  }
}

// The adjoint of im2col: dx[c, y, x] += dcols[...] for every window position reading (y, x).
// Channels over the threads (each channel's rows of dcols write only that channel).
template <typename T>
void col2im(const Geometry& g, const T* dcols, T* dx) {
  std::fill(dx, dx + g.C * g.H * g.W, T(0));
#pragma omp parallel for schedule(static) if (g.rows() * g.cols() >= (int64_t{1} << 16)) num_threads(num_threads())
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t u = 0; u < g.kh; ++u)
      for (int64_t v = 0; v < g.kw; ++v) {
        const T* in = dcols + ((c * g.kh + u) * g.kw + v) * g.cols();
        for (int64_t i = 0; i < g.Ho; ++i) {
          const int64_t y = i * g.sh - g.ph + u * g.dh;
          if (y < 0 || y >= g.H) continue;
          T* row = dx + (c * g.H + y) * g.W;
          for (int64_t j = 0; j < g.Wo; ++j) {
            const int64_t xx = j * g.sw - g.pw + v * g.dw;
            if (xx >= 0 && xx < g.W) row[xx] += in[i * g.Wo + j];
          }
        }
      }
}

void check_image(const char* op, const Tensor& x) {
  ATTEND_CHECK(x.dim() == 4, op, "input ", x.shape().str(), " must be 4-d [N, C, H, W]");
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  constexpr const char* op = "conv2d";
  check_image(op, x);
  ATTEND_CHECK(weight.dim() == 4, op, "weight ", weight.shape().str(), " must be 4-d [O, C, kh, kw]");
  ATTEND_CHECK(weight.size(1) == x.size(1), op, "input ", x.shape().str(), " has ", x.size(1),
               " channels, the weight ", weight.shape().str(), " expects ", weight.size(1));
  ATTEND_CHECK(x.dtype() == weight.dtype(), op, "dtypes differ: input ", x.str(), ", weight ", weight.str());
  ATTEND_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0) && bias.dtype() == x.dtype()), op,
               "bias ", bias.defined() ? bias.shape().str() : "", " must be [O] = [", weight.size(0), "] of the input's dtype");
  Geometry g{.N = x.size(0), .C = x.size(1), .H = x.size(2), .W = x.size(3), .kh = weight.size(2), .kw = weight.size(3),
             .sh = opt.stride_h, .sw = opt.stride_w, .ph = opt.pad_h, .pw = opt.pad_w, .dh = opt.dilation_h,
             .dw = opt.dilation_w, .Ho = 0, .Wo = 0};
  g.Ho = out_size(op, "H", g.H, g.kh, g.sh, g.ph, g.dh, x.shape());
  g.Wo = out_size(op, "W", g.W, g.kw, g.sw, g.pw, g.dw, x.shape());
  const int64_t O = weight.size(0), K = g.rows(), P = g.cols();
  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = Tensor::empty(Shape{g.N, O, g.Ho, g.Wo}, x.dtype());
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    std::vector<T> cols(static_cast<size_t>(K * P));
    for (int64_t n = 0; n < g.N; ++n) {
      T* y = out.data<T>() + n * O * P;
      if (bc.defined())
        for (int64_t o = 0; o < O; ++o) std::fill(y + o * P, y + (o + 1) * P, bc.data<T>()[o]);
      if (K == 0 || P == 0) continue;
      im2col(g, xc.data<T>() + n * g.C * g.H * g.W, cols.data());
      kernels::gemm(false, false, O, P, K, T(1), wc.data<T>(), K, cols.data(), P, bc.defined() ? T(1) : T(0), y, P);
    }
  });
  const bool gx = x.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  record(op, inputs, out, [xc, wc, g, O, K, P, gx, gw, gb, has_bias = bias.defined()](const Grads& gr) -> Grads {
    const Tensor go = gr[0].contiguous();  // [N, O, Ho, Wo]
    Tensor dx = gx ? Tensor::empty(xc.shape(), xc.dtype()) : Tensor();
    Tensor dw = gw ? Tensor::zeros(wc.shape(), wc.dtype()) : Tensor();
    Tensor db = gb ? Tensor::zeros(Shape{O}, wc.dtype()) : Tensor();
    dispatch_dtype(go.dtype(), [&]<typename T>() {
      std::vector<T> cols(static_cast<size_t>(K * P));
      for (int64_t n = 0; n < g.N; ++n) {
        const T* gy = go.data<T>() + n * O * P;
        if (gb)
          for (int64_t o = 0; o < O; ++o) {
            T s = 0;
            for (int64_t p = 0; p < P; ++p) s += gy[p + o * P];
            db.data<T>()[o] += s;
          }
        if (K == 0 || P == 0) {
          if (gx) std::fill(dx.data<T>() + n * g.C * g.H * g.W, dx.data<T>() + (n + 1) * g.C * g.H * g.W, T(0));
          continue;
        }
        if (gw) {  // dW += dY_n cols_n^T: [O, P] x [P, K]
          im2col(g, xc.data<T>() + n * g.C * g.H * g.W, cols.data());
          kernels::gemm(false, true, O, K, P, T(1), gy, P, cols.data(), P, T(1), dw.data<T>(), K);
        }
        if (gx) {  // dcols = W^T dY_n: [K, O] x [O, P], folded back onto the image
          kernels::gemm(true, false, K, P, O, T(1), wc.data<T>(), K, gy, P, T(0), cols.data(), P);
          col2im(g, cols.data(), dx.data<T>() + n * g.C * g.H * g.W);
        }
      }
    });
    Grads grads{dx, dw};
    if (has_bias) grads.push_back(db);
    return grads;
  });
  return out;
}

namespace {

enum class PoolKind { max, avg };

// Output (i, j)'s window clipped to the image, [ya, yb) x [xa, xb), and the average's divisor:
// the window's positions inside the padded image (count_pad, PyTorch's count_include_pad) or
// inside the image.
struct Window {
  int64_t ya, yb, xa, xb, count;
};

Window window_of(const Geometry& g, int64_t i, int64_t j, bool count_pad) {
  const int64_t y0 = i * g.sh - g.ph, x0 = j * g.sw - g.pw;
  Window w{.ya = std::max<int64_t>(y0, 0), .yb = std::min(y0 + g.kh, g.H), .xa = std::max<int64_t>(x0, 0),
           .xb = std::min(x0 + g.kw, g.W), .count = 0};
  w.count = count_pad ? (std::min(y0 + g.kh, g.H + g.ph) - y0) * (std::min(x0 + g.kw, g.W + g.pw) - x0)
                      : (w.yb - w.ya) * (w.xb - w.xa);
  return w;
}

Tensor pool2d(const char* op, PoolKind kind, const Tensor& x, const Pool2dOptions& opt) {
  check_image(op, x);
  const int64_t sh = opt.stride_h == 0 ? opt.kernel_h : opt.stride_h, sw = opt.stride_w == 0 ? opt.kernel_w : opt.stride_w;
  ATTEND_CHECK(2 * opt.pad_h <= opt.kernel_h && 2 * opt.pad_w <= opt.kernel_w, op, "padding (", opt.pad_h, ", ",
               opt.pad_w, ") must be at most half the kernel (", opt.kernel_h, ", ", opt.kernel_w, ") (input ",
               x.shape().str(), ")");
  Geometry g{.N = x.size(0), .C = x.size(1), .H = x.size(2), .W = x.size(3), .kh = opt.kernel_h, .kw = opt.kernel_w,
             .sh = sh, .sw = sw, .ph = opt.pad_h, .pw = opt.pad_w, .dh = 1, .dw = 1, .Ho = 0, .Wo = 0};
  g.Ho = out_size(op, "H", g.H, g.kh, g.sh, g.ph, 1, x.shape());
  g.Wo = out_size(op, "W", g.W, g.kw, g.sw, g.pw, 1, x.shape());
  const Tensor xc = x.detach().contiguous();
  Tensor out = Tensor::empty(Shape{g.N, g.C, g.Ho, g.Wo}, x.dtype());
  // For max: the flat index (within the image plane) of each output's maximum, for the backward.
  auto argmax = std::make_shared<std::vector<int64_t>>(kind == PoolKind::max ? static_cast<size_t>(out.numel()) : 0);
  const bool count_pad = opt.count_pad;
  dispatch_dtype(x.dtype(), [&]<typename T>() {
    const T* px = xc.data<T>();
    T* py = out.data<T>();
#pragma omp parallel for schedule(static) if (out.numel() >= (int64_t{1} << 14)) num_threads(num_threads())
    for (int64_t plane = 0; plane < g.N * g.C; ++plane) {
      const T* in = px + plane * g.H * g.W;
      for (int64_t i = 0; i < g.Ho; ++i)
        for (int64_t j = 0; j < g.Wo; ++j) {
          const Window w = window_of(g, i, j, count_pad);
          const int64_t o = (plane * g.Ho + i) * g.Wo + j;
          if (kind == PoolKind::max) {
            T m = -std::numeric_limits<T>::infinity();
            int64_t at = w.ya * g.W + w.xa;
            for (int64_t yy = w.ya; yy < w.yb; ++yy)
              for (int64_t xx = w.xa; xx < w.xb; ++xx)
                if (!std::isnan(m) && (in[yy * g.W + xx] > m || std::isnan(in[yy * g.W + xx]))) {  // NaN wins
                  m = in[yy * g.W + xx];
                  at = yy * g.W + xx;
                }
            py[o] = m;
            (*argmax)[static_cast<size_t>(o)] = at;
          } else {
            T s = 0;
            for (int64_t yy = w.ya; yy < w.yb; ++yy)
              for (int64_t xx = w.xa; xx < w.xb; ++xx) s += in[yy * g.W + xx];
            py[o] = s / static_cast<T>(w.count);
          }
        }
    }
  });
  record(op, {x}, out, [g, kind, argmax, count_pad, xs = x.shape(), dt = x.dtype()](const Grads& gr) -> Grads {
    const Tensor go = gr[0].contiguous();
    Tensor dx = Tensor::zeros(xs, dt);
    dispatch_dtype(dt, [&]<typename T>() {
      const T* gy = go.data<T>();
      T* pd = dx.data<T>();
#pragma omp parallel for schedule(static) if (go.numel() >= (int64_t{1} << 14)) num_threads(num_threads())
      for (int64_t plane = 0; plane < g.N * g.C; ++plane) {
        T* d = pd + plane * g.H * g.W;
        for (int64_t i = 0; i < g.Ho; ++i)
          for (int64_t j = 0; j < g.Wo; ++j) {
            const int64_t o = (plane * g.Ho + i) * g.Wo + j;
            if (kind == PoolKind::max) {
              d[(*argmax)[static_cast<size_t>(o)]] += gy[o];
              continue;
            }
            const Window w = window_of(g, i, j, count_pad);
            const T share = gy[o] / static_cast<T>(w.count);
            for (int64_t yy = w.ya; yy < w.yb; ++yy)
              for (int64_t xx = w.xa; xx < w.xb; ++xx) d[yy * g.W + xx] += share;
          }
      }
    });
    return {dx};
  });
  return out;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt) { return pool2d("max_pool2d", PoolKind::max, x, opt); }
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt) { return pool2d("avg_pool2d", PoolKind::avg, x, opt); }

}  // namespace attend
