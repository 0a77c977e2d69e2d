// Reference*: the float paths of tanh, sigmoid and cross_entropy use vectorizable approximations
// of exp and tanh (src/kernels/fast_math.h); every float result is checked against the same op in
// float64 (libm) on a dense grid, at the extremes, and for NaN propagation.
#include <cmath>
#include <string>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "attend/kernels/flash_attention.h"
#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

// Inputs every 1e-4 over [-20, 20], then the edges of the clamps and the extremes.
std::vector<float> grid() {
  std::vector<float> x;
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);
  for (float v : {-1e-30f, 1e-30f, 3.9e-4f, 4.1e-4f, -7.9f, 7.9053f, 7.91f, 30.f, -80.f, -87.3f, -87.4f, -88.f, 88.3f,
                  88.4f, 89.f, -1e4f, 1e4f, -std::numeric_limits<float>::max(), std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()})
    x.push_back(v);
  return x;
}

// max |f32(x) - f64(x)| and max of that over |f64(x)| (where |f64(x)| >= rel_floor).
struct Errors {
  double abs = 0.0, rel = 0.0;
};
template <typename Op>
Errors compare(const std::vector<float>& xs, Op op, double rel_floor) {
  const Tensor x32 = Tensor::from_vector(xs, Shape{static_cast<int64_t>(xs.size())});
  const auto y32 = op(x32).template to_vector<double>();
  const auto y64 = op(x32.to(DType::f64)).template to_vector<double>();
  Errors e;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double d = std::fabs(y32[i] - y64[i]);
    EXPECT_TRUE(std::isfinite(y32[i])) << "x = " << xs[i];
    e.abs = std::max(e.abs, d);
    if (std::fabs(y64[i]) >= rel_floor) e.rel = std::max(e.rel, d / std::fabs(y64[i]));
  }
  return e;
}

TEST(ReferenceFastMath, TanhFloatMatchesDoubleEverywhere) {
  const Errors e = compare(grid(), [](const Tensor& t) { return tanh(t); }, 1e-30);
  EXPECT_LE(e.abs, 6e-7);
  EXPECT_LE(e.rel, 6e-7);
  // Tiny inputs pass through exactly; saturation is exact.
  const auto y = tanh(Tensor::from_vector(std::vector<float>{1e-30f, -3e-4f, 9.f, -9.f}, Shape{4})).to_vector<float>();
  EXPECT_EQ(y[0], 1e-30f);
  EXPECT_EQ(y[1], -3e-4f);
  EXPECT_EQ(y[2], 1.0f);
  EXPECT_EQ(y[3], -1.0f);
}

TEST(ReferenceFastMath, SigmoidFloatMatchesDoubleEverywhere) {
  const Errors e = compare(grid(), [](const Tensor& t) { return sigmoid(t); }, 1e-30);
  EXPECT_LE(e.abs, 3e-7);
  // Relative accuracy holds down to sigmoid(-69) ~ 1e-30, where float still has full precision.
  EXPECT_LE(e.rel, 1e-6);
}

// The float GELU (the per-instruction-set kernel for contiguous tensors) against float64, under
// every instruction set this machine runs.
TEST(ReferenceFastMath, GeluFloatMatchesDoubleEverywhere) {
  for (const std::string& isa : kernels::supported_isas()) {
    SCOPED_TRACE(isa);
    kernels::set_flash_isa(isa);
  // gelu(x) = x Phi(x) through the float erf: within 5e-7 |x| of float64 (erf's error times x/2).
  const std::vector<float> xs = grid();
  const Tensor x32 = Tensor::from_vector(xs, Shape{static_cast<int64_t>(xs.size())});
  const auto y32 = gelu(x32).to_vector<double>(), y64 = gelu(x32.to(DType::f64)).to_vector<double>();
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(y64[i])) continue;  // gelu(-inf) is NaN in both
    ASSERT_NEAR(y32[i], y64[i], 5e-7 * std::max(1.0, std::fabs(static_cast<double>(xs[i])))) << "x = " << xs[i];
  }
  // The gradient: Phi(x) + x phi(x), within 1e-6 in absolute terms over [-20, 20].
  const std::vector<float> inner(xs.begin(), xs.begin() + 400001);
  Tensor a = Tensor::from_vector(inner, Shape{400001}).set_requires_grad();
  Tensor b = a.to(DType::f64).detach().set_requires_grad();
  sum(gelu(a)).backward();
  sum(gelu(b)).backward();
  EXPECT_TRUE(test::all_close(a.grad().to(DType::f64), b.grad(), 1e-6, 0.0));
  }
  kernels::set_flash_isa("");
}

// The fused linear + cross-entropy in float (its rows through the per-instruction-set kernel)
// against the composed loss in float64: the loss and every gradient, with label smoothing, an
// ignored row and a bias, under every instruction set.
TEST(ReferenceFastMath, LinearCrossEntropyFloatMatchesDouble) {
  Rng rng(4);
  const int64_t N = 300, C = 24, V = 5003;  // several chunks; V not a multiple of the vector width
  const Tensor x = mul(Tensor::randn(Shape{N, C}, rng), 0.5), w = Tensor::randn(Shape{V, C}, rng),
               b = Tensor::randn(Shape{V}, rng);
  std::vector<int64_t> t;
  for (int64_t i = 0; i < N; ++i) t.push_back(i % 17 == 3 ? -100 : (i * 7919) % V);
  const Index targets(t);
  for (const std::string& isa : kernels::supported_isas()) {
    SCOPED_TRACE(isa);
    kernels::set_flash_isa(isa);
    for (double eps : {0.0, 0.1}) {
      const CrossEntropyOptions o{.label_smoothing = eps};
      Tensor x32 = x.detach().set_requires_grad(), w32 = w.detach().set_requires_grad(), b32 = b.detach().set_requires_grad();
      Tensor x64 = x.to(DType::f64).set_requires_grad(), w64 = w.to(DType::f64).set_requires_grad(),
             b64 = b.to(DType::f64).set_requires_grad();
      const Tensor y32 = linear_cross_entropy(x32, w32, b32, targets, o);
      const Tensor y64 = cross_entropy(linear(x64, w64, b64), targets, o);
      EXPECT_NEAR(y32.item(), y64.item(), 1e-5 * std::fabs(y64.item())) << "eps " << eps;
      y32.backward();
      y64.backward();
      EXPECT_TRUE(test::all_close(x32.grad().to(DType::f64), x64.grad(), 1e-6, 1e-4)) << "eps " << eps;
      EXPECT_TRUE(test::all_close(w32.grad().to(DType::f64), w64.grad(), 1e-7, 1e-4)) << "eps " << eps;
      EXPECT_TRUE(test::all_close(b32.grad().to(DType::f64), b64.grad(), 1e-7, 1e-4)) << "eps " << eps;
    }
  }
  kernels::set_flash_isa("");
}

TEST(ReferenceFastMath, NanPropagates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = Tensor::from_vector(std::vector<float>{nan, 1.0f}, Shape{2});
  EXPECT_TRUE(std::isnan(tanh(x).to_vector<float>()[0]));
  EXPECT_TRUE(std::isnan(sigmoid(x).to_vector<float>()[0]));
  EXPECT_TRUE(std::isnan(gelu(x).to_vector<float>()[0]));
  EXPECT_FALSE(std::isnan(tanh(x).to_vector<float>()[1]));
}

TEST(ReferenceFastMath, CrossEntropyFloatMatchesDouble) {
  Rng rng(3);
  const int64_t N = 37, C = 1001;
  Tensor logits = mul(Tensor::randn(Shape{N, C}, rng), 8.0);  // logits spread over about +-30
  std::vector<int64_t> t(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) t[static_cast<size_t>(i)] = (i * 97) % C;
  t[5] = -100;  // ignored row
  const Index targets(t);
  for (double eps : {0.0, 0.1}) {
    Tensor l32 = logits.detach().set_requires_grad();
    Tensor l64 = logits.to(DType::f64).set_requires_grad();
    const CrossEntropyOptions o{.label_smoothing = eps};
    Tensor y32 = cross_entropy(l32, targets, o), y64 = cross_entropy(l64, targets, o);
    EXPECT_NEAR(y32.item(), y64.item(), 2e-6 * std::fabs(y64.item())) << "eps " << eps;
    y32.backward();
    y64.backward();
    EXPECT_TRUE(test::all_close(l32.grad().to(DType::f64), l64.grad(), 1e-7, 1e-5)) << "eps " << eps;
    EXPECT_EQ(l32.grad().dtype(), DType::f32);
  }
}

}  // namespace
}  // namespace attend
