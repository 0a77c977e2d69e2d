// The tape keeps every node it still has to visit alive, even when the only other reference was an
// edge of a node it has just released (a use-after-free under ASan before the fix).
#include <gtest/gtest.h>

#include "attend/ops/ops.h"
#include "support/check.h"

namespace attend {
namespace {

TEST(AutogradLifetime, TemporariesOnlyHeldByTheGraphSurviveBackward) {
  Rng rng(5);
  Tensor x = Tensor::randn({3, 4}, rng, DType::f64).set_requires_grad();
  // Every intermediate is a temporary: after this line only the graph refers to them.
  Tensor loss = sum(exp(mul(tanh(reshape(permute(x, {1, 0}), {2, 6})), 0.5)));
  loss.backward();
  // d/dx sum(exp(tanh(x) / 2)) = exp(tanh(x) / 2) * (1 - tanh(x)^2) / 2, independent of layout.
  Tensor expect = Tensor::empty({3, 4}, DType::f64);
  double* e = expect.data<double>();
  const double* xv = x.data<double>();
  for (int i = 0; i < 12; ++i) {
    const double t = std::tanh(xv[i]);
    e[i] = std::exp(t / 2) * (1 - t * t) / 2;
  }
  EXPECT_TRUE(test::all_close(x.grad(), expect, 1e-12, 1e-12));
}

}  // namespace
}  // namespace attend

namespace attend {
namespace {

TEST(AutogradLifetime, AccumulationNeverWritesIntoSharedGradients) {
  Rng rng(6);
  Tensor x = Tensor::randn({3}, rng, DType::f64).set_requires_grad();
  Tensor t = tanh(x);
  Tensor y = t + t * 2.0;  // add's backward hands the same gradient to both of its inputs
  Tensor w = Tensor::ones({3}, DType::f64);
  y.backward(w);
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{1, 1, 1}));  // the caller's grad_output is untouched
  const auto g = x.grad().to_vector<double>();
  const auto xv = x.to_vector<double>();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g[i], 3 * (1 - std::tanh(xv[i]) * std::tanh(xv[i])), 1e-12);
}

}  // namespace
}  // namespace attend
