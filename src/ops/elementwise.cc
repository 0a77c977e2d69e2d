#include "attend/ops/elementwise.h"

#include <cmath>
#include <type_traits>

#include "attend/autograd/autograd.h"
#include "attend/ops/reduce.h"
#include "../kernels/fast_math.h"
#include "attend/kernels/flash_attention.h"
#include "map.h"

namespace attend {

using autograd::record;
using detail::map1;
using detail::map2;
using Grads = std::vector<Tensor>;

// ---- binary, with broadcasting; gradients are summed back to each input's shape ----

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = map2("add", a, b, [](auto x, auto y) { return x + y; });
  record("add", {a, b}, out, [sa = a.shape(), sb = b.shape()](const Grads& g) -> Grads {
    return {sum_to(g[0], sa), sum_to(g[0], sb)};
  });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = map2("sub", a, b, [](auto x, auto y) { return x - y; });
  record("sub", {a, b}, out, [sa = a.shape(), sb = b.shape()](const Grads& g) -> Grads {
    return {sum_to(g[0], sa), sum_to(neg(g[0]), sb)};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = map2("mul", a, b, [](auto x, auto y) { return x * y; });
  // d(ab)/da = b, d(ab)/db = a
  record("mul", {a, b}, out, [a = a.detach(), b = b.detach()](const Grads& g) -> Grads {
    return {sum_to(mul(g[0], b), a.shape()), sum_to(mul(g[0], a), b.shape())};
  });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = map2("div", a, b, [](auto x, auto y) { return x / y; });
  // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b
  record("div", {a, b}, out, [b = b.detach(), y = out.detach(), sa = a.shape()](const Grads& g) -> Grads {
    const Tensor ga = div(g[0], b);
    return {sum_to(ga, sa), sum_to(neg(mul(ga, y)), b.shape())};
  });
  return out;
}

Tensor add(const Tensor& a, double s) {
  Tensor out = map1(a, [s](auto x) { return x + static_cast<decltype(x)>(s); });
  record("add_scalar", {a}, out, [](const Grads& g) -> Grads { return {g[0]}; });
  return out;
}

Tensor mul(const Tensor& a, double s) {
  Tensor out = map1(a, [s](auto x) { return x * static_cast<decltype(x)>(s); });
  record("mul_scalar", {a}, out, [s](const Grads& g) -> Grads { return {mul(g[0], s)}; });
  return out;
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = map2("maximum", a, b, [](auto x, auto y) { return x >= y ? x : y; });
  record("maximum", {a, b}, out, [a = a.detach(), b = b.detach()](const Grads& g) -> Grads {
    const Tensor take_a = map2("maximum", a, b, [](auto x, auto y) { return x >= y ? decltype(x)(1) : decltype(x)(0); });
    const Tensor take_b = map1(take_a, [](auto t) { return 1 - t; });
    return {sum_to(mul(g[0], take_a), a.shape()), sum_to(mul(g[0], take_b), b.shape())};
  });
  return out;
}

Tensor operator-(const Tensor& a) { return neg(a); }

// ---- unary: y = f(x), dx = g * f'(x) ----

Tensor neg(const Tensor& x) {
  Tensor out = map1(x, [](auto v) { return -v; });
  record("neg", {x}, out, [](const Grads& g) -> Grads { return {neg(g[0])}; });
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = map1(x, [](auto v) { return std::exp(v); });
  record("exp", {x}, out, [y = out.detach()](const Grads& g) -> Grads { return {mul(g[0], y)}; });  // (e^x)' = e^x
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = map1(x, [](auto v) { return std::log(v); });
  record("log", {x}, out, [x = x.detach()](const Grads& g) -> Grads { return {div(g[0], x)}; });  // 1/x
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = map1(x, [](auto v) { return std::sqrt(v); });
  // (sqrt x)' = 1 / (2 sqrt x)
  record("sqrt", {x}, out, [y = out.detach()](const Grads& g) -> Grads { return {mul(div(g[0], y), 0.5)}; });
  return out;
}

Tensor square(const Tensor& x) {
  Tensor out = map1(x, [](auto v) { return v * v; });
  record("square", {x}, out, [x = x.detach()](const Grads& g) -> Grads { return {mul(mul(g[0], x), 2.0)}; });
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = map1(x, [](auto v) { return detail::tanh_of(v); });
  // tanh' = 1 - tanh^2
  record("tanh", {x}, out, [y = out.detach()](const Grads& g) -> Grads {
    return {mul(g[0], map1(y, [](auto t) { return 1 - t * t; }))};
  });
  return out;
}

Tensor sigmoid(const Tensor& x) {
  // float: 1 / (1 + e^-x) with fast_exp, which saturates instead of overflowing, so one branch-free
  // formula serves every x. double: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) otherwise.
  Tensor out = map1(x, [](auto v) {
    using T = decltype(v);
    if constexpr (std::is_same_v<T, float>) {
      return 1.0f / (1.0f + detail::fast_exp(-v));
    } else {
      if (v >= 0) return T(1) / (T(1) + std::exp(-v));
      const T e = std::exp(v);
      return e / (T(1) + e);
    }
  });
  // sigmoid' = s (1 - s)
  record("sigmoid", {x}, out, [y = out.detach()](const Grads& g) -> Grads {
    return {mul(g[0], map1(y, [](auto s) { return s * (1 - s); }))};
  });
  return out;
}

Tensor relu(const Tensor& x) {
  Tensor out = map1(x, [](auto v) { return v > 0 ? v : decltype(v)(0); });
  record("relu", {x}, out, [x = x.detach()](const Grads& g) -> Grads {
    return {mul(g[0], map1(x, [](auto v) { return v > 0 ? decltype(v)(1) : decltype(v)(0); }))};
  });
  return out;
}

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1 / sqrt(2 pi)
}  // namespace

Tensor gelu(const Tensor& x, GeluApprox approx) {
  if (approx == GeluApprox::none) {
    // gelu(x) = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2; gelu' = Phi(x) + x phi(x)
    // Contiguous float tensors go to the per-instruction-set kernel (the same formula, vectorized).
    const bool fast = x.dtype() == DType::f32 && x.is_contiguous();
    Tensor out;
    if (fast) {
      out = Tensor::empty(x.shape(), DType::f32);
      const float* px = x.data<float>();
      float* po = out.data<float>();
      detail::parallel_blocks(x.numel(), [&](int64_t a, int64_t b) { kernels::gelu(px + a, po + a, b - a); });
    } else {
      out = map1(x, [](auto v) {
        using T = decltype(v);
        return v * T(0.5) * (T(1) + detail::erf_of(v * T(kInvSqrt2)));
      });
    }
    record("gelu", {x}, out, [x = x.detach()](const Grads& g) -> Grads {
      if (x.dtype() == DType::f32 && x.is_contiguous()) {
        const Tensor go = g[0].contiguous();
        Tensor dx = Tensor::empty(x.shape(), DType::f32);
        const float *px = x.data<float>(), *pg = go.data<float>();
        float* pd = dx.data<float>();
        detail::parallel_blocks(x.numel(), [&](int64_t a, int64_t b) { kernels::gelu_backward(px + a, pg + a, pd + a, b - a); });
        return {dx};
      }
      return {mul(g[0], map1(x, [](auto v) {
                    using T = decltype(v);
                    const T cdf = T(0.5) * (T(1) + detail::erf_of(v * T(kInvSqrt2)));
                    return cdf + v * T(kInvSqrt2Pi) * detail::exp_of(T(-0.5) * v * v);
                  }))};
    });
    return out;
  }
  // gelu(x) ~ x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
  // gelu' = (1 + t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(u)
  Tensor out = map1(x, [](auto v) {
    using T = decltype(v);
    return T(0.5) * v * (T(1) + std::tanh(T(kSqrt2OverPi) * (v + T(0.044715) * v * v * v)));
  });
  record("gelu_tanh", {x}, out, [x = x.detach()](const Grads& g) -> Grads {
    return {mul(g[0], map1(x, [](auto v) {
                  using T = decltype(v);
                  const T t = std::tanh(T(kSqrt2OverPi) * (v + T(0.044715) * v * v * v));
                  return T(0.5) * (T(1) + t) +
                         T(0.5) * v * (T(1) - t * t) * T(kSqrt2OverPi) * (T(1) + T(3 * 0.044715) * v * v);
                }))};
  });
  return out;
}

Tensor pow(const Tensor& x, double p) {
  Tensor out = map1(x, [p](auto v) { return std::pow(v, static_cast<decltype(v)>(p)); });
  // (x^p)' = p x^(p-1)
  record("pow", {x}, out, [x = x.detach(), p](const Grads& g) -> Grads {
    return {mul(g[0], map1(x, [p](auto v) {
                  using T = decltype(v);
                  return static_cast<T>(p) * std::pow(v, static_cast<T>(p - 1));
                }))};
  });
  return out;
}

}  // namespace attend
